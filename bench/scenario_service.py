"""What the fake metadata service answers in the benchmark: subject, procedures, funding, investigators.

The same at every scale: subject 664484, its procedures (an implanted probe, a craniotomy, an
injection, a perfusion), and the project's funding and investigators.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from bench.scenario_common import SUBJECT_ID

# -- what the metadata service answers -------------------------------------------------------------


def subject() -> Any:
    from aind_data_schema.components.subjects import BreedingInfo, Housing, MouseSubject, Sex
    from aind_data_schema.core.subject import Subject
    from aind_data_schema_models.organizations import Organization
    from aind_data_schema_models.species import Species, Strain

    return Subject(
        subject_id=SUBJECT_ID,
        subject_details=MouseSubject(
            species=Species.HOUSE_MOUSE,
            strain=Strain.C57BL_6J,
            sex=Sex.MALE,
            date_of_birth=date(2022, 11, 22),
            source=Organization.AI,
            breeding_info=BreedingInfo(
                maternal_id="546543",
                maternal_genotype="Emx1-IRES-Cre/wt; Camk2a-tTa/Camk2a-tTA",
                paternal_id="232323",
                paternal_genotype="Ai93(TITL-GCaMP6f)/wt",
            ),
            genotype="Emx1-IRES-Cre/wt;Camk2a-tTA/wt;Ai93(TITL-GCaMP6f)/wt",
            housing=Housing(home_cage_enrichment=["Running wheel"], cage_id="123"),
        ),
    )


def procedures() -> Any:
    from aind_data_schema.components.configs import ProbeConfig
    from aind_data_schema.components.coordinates import CoordinateSystemLibrary, Rotation, Translation
    from aind_data_schema.components.devices import EphysProbe
    from aind_data_schema.components.injection_procedures import (
        InjectionDynamics,
        InjectionProfile,
        TarsVirusIdentifiers,
        ViralMaterial,
    )
    from aind_data_schema.components.surgery_procedures import (
        Anaesthetic,
        BrainInjection,
        Craniotomy,
        CraniotomyType,
        Perfusion,
        ProbeImplant,
    )
    from aind_data_schema.core.procedures import Procedures, Surgery
    from aind_data_schema_models.brain_atlas import CCFv3
    from aind_data_schema_models.units import SizeUnit, VolumeUnit

    system = CoordinateSystemLibrary.BREGMA_ARI.model_copy(update={"name": "LAMBDA_ARI"})
    implant = ProbeImplant(
        implanted_device=EphysProbe(name="Chronic Probe", probe_model="Neuropixels UHD (Fixed)"),
        device_config=ProbeConfig(
            primary_targeted_structure=CCFv3.VTA,
            device_name="Chronic Probe",
            coordinate_system=CoordinateSystemLibrary.MPM_MANIP_RFB,
            transform=[Translation(translation=[-600, -3050, 0, 4200])],
        ),
    )
    injection = BrainInjection(
        protocol_id="5678",
        injection_materials=[
            ViralMaterial(
                name="AAV2-Flex-ChrimsonR",
                tars_identifiers=TarsVirusIdentifiers(
                    virus_tars_id="AiV222", plasmid_tars_alias=["AiP222"], prep_lot_number="VT222"
                ),
                titer=2300000000,
            )
        ],
        coordinate_system_name=system.name,
        coordinates=[[Translation(translation=[-0.85, -3.8, 3.3]), Rotation(angles=[0, 10, 0])]],
        dynamics=[InjectionDynamics(volume=200, volume_unit=VolumeUnit.NL, profile=InjectionProfile.BOLUS)],
        targeted_structure=CCFv3.VISP,
    )
    return Procedures(
        subject_id=SUBJECT_ID,
        subject_procedures=[
            Surgery(
                start_date=date(2023, 3, 1),
                protocol_id="doi",
                experimenters=["Scientist Smith"],
                ethics_review_id="2109",
                animal_weight_prior=22.6,
                animal_weight_post=22.3,
                anaesthesia=Anaesthetic(anaesthetic_type="Isoflurane", duration=1, level=1.5),
                coordinate_system=system,
                workstation_id="SWS 3",
                procedures=[
                    implant,
                    Craniotomy(
                        craniotomy_type=CraniotomyType.CIRCLE,
                        protocol_id="1234",
                        coordinate_system_name=system.name,
                        position=Translation(translation=[-2, 2, 0]),
                        size=1,
                        size_unit=SizeUnit.MM,
                    ),
                    injection,
                ],
            ),
            Surgery(
                start_date=date(2023, 5, 2),
                experimenters=["Scientist Smith"],
                ethics_review_id="2109",
                protocol_id="doi",
                coordinate_system=CoordinateSystemLibrary.BREGMA_ARI,
                procedures=[Perfusion(protocol_id="doi_of_protocol", output_specimen_ids=["2", "1"])],
            ),
        ],
    )


def people() -> list[dict[str, Any]]:
    from aind_data_schema.components.identifiers import Person

    names = ("Marina Garrett", "Peter Groblewski", "Shawn Olsen")
    return [Person(name=name).model_dump(mode="json") for name in names]


def funding() -> list[dict[str, Any]]:
    from aind_data_schema.core.data_description import Funding
    from aind_data_schema_models.organizations import Organization

    return [Funding(funder=Organization.AI, fundee=people()).model_dump(mode="json")]
