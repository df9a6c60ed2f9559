"""The repository's docs and code stand alone: none of them sends a reader to a design
note that lives outside the repository."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE_NOTES = ("DESIGN.md", "STYLE.md")


def _tracked_text_files():
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode == 0 and listed.stdout:
        names = listed.stdout.splitlines()
    else:  # a source tree without git (an archive): every file under the root
        names = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*")
                 if p.is_file() and not {".venv", "var", ".git"} & set(p.parts)]
    for name in names:
        if name == str(Path(__file__).relative_to(ROOT)):
            continue
        path = ROOT / name
        if path.suffix in {".py", ".md", ".yml", ".yaml", ".toml", ".txt", ".cfg", ""} \
                and path.is_file():
            yield name, path


def test_no_file_cites_a_design_note_outside_the_repository():
    citing = []
    for name, path in _tracked_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        citing += [f"{name}: {note}" for note in OUTSIDE_NOTES if note in text]
    assert citing == []
