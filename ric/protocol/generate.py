"""Generate the Python protobuf and gRPC modules of ``proto/ntnric/*.proto``.

Run ``python -m ric.protocol.generate`` after editing a ``.proto`` file and commit the result in
``ric/protocol/gen/``. ``grpc_tools.protoc`` writes ``--python_out``, ``--pyi_out`` and
``--grpc_python_out`` modules; their ``from ntnric import ...`` lines are rewritten to
``from ric.protocol.gen import ...`` so the generated code is an ordinary package (the top-level
name ``ntnric`` belongs to the CLI). ``tests/ric/test_proto_generated.py`` regenerates into a
temporary folder and fails when the committed files differ.
"""

from __future__ import annotations

import re
import sys
import tempfile
from importlib import resources
from pathlib import Path

PROTO_ROOT = Path(__file__).resolve().parents[2] / "proto"
GEN_DIR = Path(__file__).resolve().parent / "gen"
PROTO_PACKAGE = "ntnric"
GEN_PACKAGE = "ric.protocol.gen"

_INIT = '''"""Generated protobuf and gRPC modules (``python -m ric.protocol.generate``; do not edit)."""
'''
_IMPORT_RE = re.compile(rf"^(\s*)from {PROTO_PACKAGE} import ", re.MULTILINE)


def proto_files(proto_root: Path = PROTO_ROOT) -> list[Path]:
    """The ``.proto`` sources, sorted."""
    return sorted((proto_root / PROTO_PACKAGE).glob("*.proto"))


def generate(out_dir: Path = GEN_DIR, proto_root: Path = PROTO_ROOT) -> list[Path]:
    """Run protoc on every source and write the fixed-up modules into ``out_dir``.

    Returns the written files (sorted). Raises `RuntimeError` with protoc's message on failure.
    """
    from grpc_tools import protoc

    sources = proto_files(proto_root)
    if not sources:
        raise RuntimeError(f"no .proto files under {proto_root / PROTO_PACKAGE}")
    well_known = resources.files("grpc_tools") / "_proto"
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "grpc_tools.protoc",
            f"-I{proto_root}",
            f"-I{well_known}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            *(str(p.relative_to(proto_root)) for p in sources),
        ]
        if protoc.main(args) != 0:
            raise RuntimeError(f"protoc failed on {', '.join(p.name for p in sources)}")
        for path in sorted((Path(tmp) / PROTO_PACKAGE).iterdir()):
            text = _IMPORT_RE.sub(rf"\1from {GEN_PACKAGE} import ", path.read_text())
            target = out_dir / path.name
            target.write_text(text)
            written.append(target)
    init = out_dir / "__init__.py"
    init.write_text(_INIT)
    written.append(init)
    return sorted(written)


def main() -> int:
    for path in generate():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
