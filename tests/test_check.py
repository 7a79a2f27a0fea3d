"""`gather-job check DIR`: the same gather as `run`, nothing written, findings for people."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from gather_job.cli import main
from gather_job.progress import Progress
from tests.conftest import snapshot


def check(folder: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    before = snapshot(folder)
    code = main(["check", str(folder), *args], environ={})
    captured = capsys.readouterr()
    assert snapshot(folder) == before  # writes nothing, changes nothing
    return code, captured.out, captured.err


def test_a_clean_folder_says_what_it_checked(asset, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = check(asset(with_subject=True, with_procedures=True), "--offline", capsys=capsys)
    assert code == 0
    # offline, the service's procedures (joined at upload) and the upload's data_description stay open
    assert "no error in what could be checked here; still open until upload: data_description.json" in out
    assert "the service's procedures" in out and "ready for upload" not in out
    assert "instrument.json   merged from instrument_a.json + instrument_b.json" in out
    assert "subject.json      from subject.json" in out
    assert "metadata service: not asked" in out
    assert "data_description.json" not in out.split("\n\n")[1]  # not built without settings


def test_offline_check_of_a_rig_folder_does_not_demand_service_files(asset, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = check(asset(), "--offline", capsys=capsys)
    assert code == 0, out


def test_errors_exit_3_grouped_by_file_errors_first(asset, capsys) -> None:  # type: ignore[no-untyped-def]
    folder = asset("unknown_stimulus_device")
    (folder / "session.json").write_text("{}")
    code, out, _ = check(folder, "--offline", capsys=capsys)
    assert code == 3
    blocks = out.split("\n\n")
    assert blocks[2].startswith(
        "acquisition_b.json\n  ERROR   gather.compat.unknown_stimulus_device  at stimulus_epochs[0]"
    )
    assert "fix: " in blocks[2]
    assert out.index("ERROR") < out.index("WARNING")


def test_json_lines(asset, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = check(asset("shared_device"), "--offline", "--json", capsys=capsys)
    assert code == 3
    records = [json.loads(line) for line in out.splitlines()]
    findings = [r for r in records if r["type"] == "finding"]
    first = findings[0]
    assert first["id"] == "gather.merge.shared_device" and first["severity"] == "error"
    assert set(first) == {"type", "id", "severity", "files", "location", "message", "value", "hint"}
    summary = records[-1]
    assert summary["type"] == "summary" and summary["exit_code"] == 3 and summary["counts"]["error"] >= 1
    assert summary["verdict"] == "errors to fix before upload (exit 3)"


def test_check_uses_the_settings_and_the_service(asset, service, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import base_settings

    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps(base_settings(asset(), tmp_path / "unused", service.url)))
    code, out, _ = check(asset(), "--settings-file", str(settings), capsys=capsys)
    assert code == 0, out
    assert "data_description.json  built from the settings" in out
    assert f"{service.url}/api/v2/subject/" in out
    assert not (tmp_path / "unused").exists()


def test_check_finds_what_run_finds(asset, service, gather, capsys) -> None:  # type: ignore[no-untyped-def]
    folder = asset("mismatched_instrument_id", with_subject=True, with_procedures=True, with_data_description=True)
    run = gather(folder)  # offline, as the check: the folder has every file
    code, out, _ = check(folder, "--offline", "--json", capsys=capsys)
    ids = {json.loads(line).get("id") for line in out.splitlines()}
    assert code == run.code == 3
    assert set(run.ids("error")) <= ids


def test_unknown_modality_in_check_settings_suggests_the_right_one(asset, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _, err = check(
        asset(),
        "--offline",
        "--job-settings",
        '{"data_description_settings": {"modalities": ["behaviour"]}}',
        capsys=capsys,
    )
    assert code == 2 and "did you mean 'behavior'" in err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.slow
@pytest.mark.parametrize("stream", [io.StringIO(), _Terminal()])
def test_progress_shows_only_slow_steps(stream: io.StringIO) -> None:
    import time

    progress = Progress(stream, threshold=0.15, tick=0.02)
    with progress.step("quick"):
        pass
    with progress.step("waiting for the metadata service"):
        time.sleep(0.4)
    progress.close()
    text = stream.getvalue()
    assert "quick" not in text
    assert "waiting for the metadata service" in text
    assert ("done in" in text) if isinstance(stream, _Terminal) else ("metadata service: 0." in text)
    assert ("\r" in text) is isinstance(stream, _Terminal)
