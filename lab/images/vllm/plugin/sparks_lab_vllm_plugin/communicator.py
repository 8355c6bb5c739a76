"""CPU device communicator that uses vLLM's /dev/shm all-reduce only when every rank
of the group really sees the same /dev/shm (same host, same IPC namespace).

vLLM's CpuCommunicator enables its shared-memory all-reduce whenever the ranks agree on
a group name, which they always do; across hosts the remote rank then dies with
``open shm in SHMManager failed. errno: 2``. Here each rank drops a marker file in
/dev/shm, and shared memory is used only if every rank sees every marker. Otherwise
vLLM falls back to torch.distributed (gloo over TCP).
"""

import os
import uuid

import torch

from vllm.distributed.device_communicators.cpu_communicator import CpuCommunicator
from vllm.logger import init_logger

# under the "vllm" logger tree so that vLLM's log configuration shows these lines
logger = init_logger("vllm.sparks_lab_plugin")

SHM_DIR = "/dev/shm"


class LabCpuCommunicator(CpuCommunicator):
    def _all_group_ranks_share_shm_group_name(self) -> bool:
        same_name = super()._all_group_ranks_share_shm_group_name()
        shared = self._all_ranks_share_dev_shm()
        if same_name and not shared:
            logger.info(
                "sparks-lab: group %s spans several hosts (no common /dev/shm): "
                "using torch.distributed (gloo) instead of the CPU SHM all-reduce.",
                self.unique_name,
            )
        elif same_name:
            logger.info("sparks-lab: group %s shares one /dev/shm: CPU SHM all-reduce on.", self.unique_name)
        return same_name and shared

    def _all_ranks_share_dev_shm(self) -> bool:
        group = self.device_group
        marker = f"sparks-lab-shm-probe-{uuid.uuid4().hex}"
        path = os.path.join(SHM_DIR, marker)
        try:
            with open(path, "w") as fh:
                fh.write(str(os.getpid()))
            created = True
        except OSError:
            created = False
        try:
            markers: list = [None] * self.world_size
            torch.distributed.all_gather_object(markers, marker if created else None, group=group)
            sees_all = all(m is not None and os.path.exists(os.path.join(SHM_DIR, m)) for m in markers)
            verdicts: list = [None] * self.world_size
            torch.distributed.all_gather_object(verdicts, sees_all, group=group)
        finally:
            if created:
                try:
                    os.unlink(path)
                except OSError:
                    pass
        return all(verdicts)
