"""cluster_fabric_mtu (role fabric, entry point mtu): the MTU on every VM now and in systemd-networkd's configuration,
and the end-to-end check that fails, naming the node, where a frame of that size does not get through."""

from __future__ import annotations

import subprocess
import time

import pytest
from conftest import REPO_DIR


def _mtu(host, interface):
    return int(host.file(f"/sys/class/net/{interface}/mtu").content_string.strip())


def _tap(name: str) -> str:
    """The host's tap of a VM (lab/vm/lib.sh)."""
    return subprocess.run(["bash", "-c", f'. lab/vm/lib.sh && vm_tap "{name}"'], cwd=REPO_DIR, check=True,
                          capture_output=True, text=True).stdout.strip()


def test_every_vm_has_the_mtu_now_and_in_networkds_configuration(lab):
    interface, mtu = lab.vars["cluster_fabric_interface"], lab.vars["cluster_fabric_mtu"]
    assert mtu == 9000
    for name, host in lab.hosts.items():
        assert _mtu(host, interface) == mtu, name
        status = host.check_output(f"networkctl status --no-pager {interface}")
        network = next(line.split(":", 1)[1].strip() for line in status.splitlines() if "Network File:" in line)
        dropin = host.file(f"/etc/systemd/network/{network.rsplit('/', 1)[-1]}.d/90-stacked-sparks-mtu.conf")
        assert dropin.exists and "[Link]\nMTUBytes=9000\n" in dropin.content_string, (name, network)


def test_the_kept_mtu_comes_back_when_networkd_configures_the_link_again(lab):
    interface = lab.vars["cluster_fabric_interface"]
    worker = lab.workers[0]
    worker.run_expect([0], f"sudo ip link set dev {interface} mtu 1500")
    assert _mtu(worker, interface) == 1500
    worker.run_expect([0], f"sudo networkctl reconfigure {interface}")
    deadline = time.monotonic() + 60
    while _mtu(worker, interface) != 9000 and time.monotonic() < deadline:
        time.sleep(2)
    assert _mtu(worker, interface) == 9000


@pytest.fixture
def smaller_frames_to_the_last_worker(lab):
    """The host's tap of the last worker takes 1500-byte frames only (a switch port left at 1500), for the test.
    The host's own SSH to it still gets through: the bridge's MTU, the host's side, is 1500 (lab/vm/net-up)."""
    tap = _tap(lab.worker_names[-1])
    subprocess.run(["ip", "link", "set", tap, "mtu", "1500"], check=True)
    try:
        yield lab.worker_names[-1]
    finally:
        subprocess.run(["ip", "link", "set", tap, "mtu", "9000"], check=True)


def test_a_node_behind_smaller_frames_fails_the_check_naming_it(lab, smaller_frames_to_the_last_worker):
    worker = smaller_frames_to_the_last_worker
    address = lab.fabric_ip(worker)
    run = lab.run_site("fabric_mtu")
    assert run.returncode != 0
    failed = {host for host, stats in run.stats.items() if stats["failures"]}
    assert failed >= set(lab.hosts) - {worker}, run.stats   # every other node's frames to it are dropped
    for host in failed - {worker}:
        assert f"without fragmenting to {worker} (" in run.messages[host], run.messages[host]
        assert all(f"to {other} (" not in run.messages[host] for other in lab.hosts if other != worker)
    assert run.changed == []                      # the MTU itself is as it should be everywhere
    assert (f"cluster_fabric_mtu 9000: {lab.head_name} cannot send a 9000-byte frame on eth0 without fragmenting to "
            f"{worker} ({address}: 3 packets transmitted, 0 received") in run.messages[lab.head_name]
