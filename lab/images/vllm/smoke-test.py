"""Build-time check of the lab vLLM image's Python environment."""
from importlib.metadata import PackageNotFoundError, version

import ray
import torch
from vllm.platforms import current_platform

print("torch", torch.__version__, "ray", ray.__version__, "vllm", version("vllm"))
print("platform", type(current_platform).__module__ + "." + type(current_platform).__name__,
      "ray_device_key", repr(current_platform.ray_device_key))
assert current_platform.ray_device_key == "GPU", "lab platform plugin not active"
assert "cpu" in version("vllm")
for gone in ("torchvision", "torchaudio", "torchcodec", "triton"):
    try:
        version(gone)
        raise SystemExit(f"{gone} is still installed")
    except PackageNotFoundError:
        pass
try:
    version("aiohttp_cors")  # part of ray[default]
    print("ray extras: default")
except PackageNotFoundError:
    print("ray extras: none (plain ray)")
