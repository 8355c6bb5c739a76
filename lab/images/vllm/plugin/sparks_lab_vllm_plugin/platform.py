"""CPU platform for the lab: Ray executor allowed, /dev/shm all-reduce only within one host."""

from vllm.platforms.cpu import CpuPlatform


class LabCpuPlatform(CpuPlatform):
    # Ray resource each vLLM worker asks for (Ray nodes are started with --num-gpus=1).
    ray_device_key: str = "GPU"

    @classmethod
    def get_device_communicator_cls(cls) -> str:
        return "sparks_lab_vllm_plugin.communicator.LabCpuCommunicator"
