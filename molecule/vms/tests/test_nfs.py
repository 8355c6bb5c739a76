"""nfs_server and nfs_client on real kernels: the export, the mounts, who owns what is written."""

from __future__ import annotations

import ipaddress
import uuid

import pytest
from conftest import role_documented_defaults


def _export_line(lab) -> str:
    content = lab.head.file("/etc/exports.d/stacked-sparks.exports").content_string
    lines = [line for line in content.splitlines() if line.strip() and not line.startswith("#")]
    assert len(lines) == 1, content
    return lines[0]


def test_the_lab_has_one_head_and_two_workers(lab):
    assert lab.head_name == "vm-head"
    assert len(lab.worker_names) == 2
    ips = {name: lab.fabric_ip(name) for name in lab.hosts}
    assert len(set(ips.values())) == 3, ips
    assert all(ipaddress.ip_address(ip) in lab.fabric_network for ip in ips.values()), ips


def test_the_nfs_server_runs_on_the_head(lab):
    service = lab.head.service("nfs-server")
    assert service.is_running
    assert service.is_enabled


def test_the_cache_directory_belongs_to_the_cache_owner(lab):
    cache = lab.head.file(lab.vars["cluster_hf_cache_dir"])
    assert cache.is_directory
    assert (cache.user, cache.group, cache.mode) == ("spark", "spark", 0o755)


def test_the_export_is_limited_to_the_fabric_network_with_the_documented_options(lab):
    defaults = role_documented_defaults("nfs_server")
    assert defaults["nfs_server_squash"] == "all_squash"
    uid = lab.head.user("spark").uid
    gid = lab.head.group("spark").gid
    expected = [*defaults["nfs_server_export_options"], "all_squash", f"anonuid={uid}", f"anongid={gid}"]
    cache = lab.vars["cluster_hf_cache_dir"]
    assert _export_line(lab) == f'"{cache}" {lab.fabric_network}({",".join(expected)})'

    # What the kernel exports: that one directory, to that one network, with those options in force.
    exports = lab.head.check_output("sudo exportfs -v").split("\n")
    assert len(exports) == 1, exports
    path, client = exports[0].split()
    options = client[client.index("(") + 1 : -1].split(",")
    assert (path, client[: client.index("(")]) == (cache, str(lab.fabric_network))
    for option in [*expected, "sec=sys"]:
        assert option in options, (option, options)
    assert "no_root_squash" not in options and "insecure" not in options


def test_an_address_outside_the_fabric_network_is_refused(lab):
    """A worker that comes from an address outside the fabric network cannot mount; from inside it can."""
    head, worker = lab.head, lab.workers[0]
    iface = lab.vars["cluster_fabric_interface"]
    cache = lab.vars["cluster_hf_cache_dir"]
    net = lab.fabric_network
    # the next network of the same size, on the same wire: head and worker each get an address there too
    outside = ipaddress.ip_network(f"{net.network_address + net.num_addresses}/{net.prefixlen}")
    head_out = outside.network_address + int(ipaddress.ip_address(lab.fabric_ip(lab.head_name))) % net.num_addresses
    worker_out = outside.network_address + int(ipaddress.ip_address(lab.fabric_ip(lab.worker_names[0]))) % net.num_addresses
    try:
        head.run_expect([0], f"sudo ip addr add {head_out}/{outside.prefixlen} dev {iface}")
        worker.run_expect([0], f"sudo ip addr add {worker_out}/{outside.prefixlen} dev {iface}")
        worker.run_expect([0], "sudo mkdir -p /mnt/outside /mnt/inside")
        refused = worker.run(f"sudo timeout 60 mount -t nfs -o vers=4.2,soft,retrans=1 {head_out}:{cache} /mnt/outside")
        assert refused.rc != 0, "a client outside the fabric network mounted the cache"
        assert "access denied" in refused.stderr, refused.stderr
        # the same worker, the same moment, through the fabric address: allowed
        worker.run_expect([0], f"sudo timeout 60 mount -t nfs -o vers=4.2 {lab.fabric_ip(lab.head_name)}:{cache} /mnt/inside")
    finally:
        worker.run("sudo umount /mnt/outside; sudo umount /mnt/inside; sudo rmdir /mnt/outside /mnt/inside")
        worker.run(f"sudo ip addr del {worker_out}/{outside.prefixlen} dev {iface}")
        head.run(f"sudo ip addr del {head_out}/{outside.prefixlen} dev {iface}")


@pytest.mark.parametrize("index", [0, 1], ids=["worker-1", "worker-2"])
def test_each_worker_mounts_the_cache_at_the_same_path_and_in_fstab(lab, index):
    worker = lab.workers[index]
    cache = lab.vars["cluster_hf_cache_dir"]
    source = f"{lab.fabric_ip(lab.head_name)}:{cache}"
    mount = worker.mount_point(cache)
    assert mount.exists
    assert (mount.device, mount.filesystem) == (source, "nfs4")
    assert "vers=4.2" in mount.options and "hard" in mount.options
    fstab = [line.split() for line in worker.file("/etc/fstab").content_string.splitlines() if cache in line]
    options = ",".join(role_documented_defaults("nfs_client")["nfs_client_mount_options"])
    assert fstab == [[source, cache, "nfs", options, "0", "0"]]


def test_a_file_written_by_a_worker_as_the_cache_owner_is_read_on_the_head_with_the_same_owner(lab):
    cache = lab.vars["cluster_hf_cache_dir"]
    for worker_name in lab.worker_names:
        worker = lab.hosts[worker_name]
        assert worker.user().name == "spark"  # the cache owner, logged in as on every node
        name = f"{cache}/probe-{worker_name}-{uuid.uuid4().hex[:8]}"
        worker.run_expect([0], f"echo 'written by {worker_name}' > {name}")
        try:
            probe = lab.head.file(name)
            assert probe.exists
            assert (probe.user, probe.group) == ("spark", "spark")
            assert probe.content_string == f"written by {worker_name}\n"
            # and the other worker sees it too, with the same owner
            other = lab.hosts[next(n for n in lab.worker_names if n != worker_name)].file(name)
            assert (other.user, other.content_string) == ("spark", f"written by {worker_name}\n")
        finally:
            worker.run(f"rm -f {name}")


def test_root_on_a_worker_writes_the_cache_as_the_cache_owner_never_as_root(lab):
    """all_squash: a container on a worker writes as root and it works, but the head sees the cache owner."""
    cache = lab.vars["cluster_hf_cache_dir"]
    worker_name = lab.worker_names[0]
    worker = lab.hosts[worker_name]
    name = f"probe-root-{uuid.uuid4().hex[:8]}"
    try:
        worker.run_expect(
            [0],
            f"sudo docker run --rm -v {cache}:/cache {lab.vars['cluster_image']} sh -c 'id -u > /cache/{name}'",
        )
        probe = lab.head.file(f"{cache}/{name}")
        assert probe.content_string == "0\n"  # written by root in the container
        assert (probe.user, probe.uid) == ("spark", lab.head.user("spark").uid)  # owned by the cache owner on the head
        # and root on the worker cannot make a file root's on the head
        chown = worker.run(f"sudo chown root:root {cache}/{name}")
        assert chown.rc != 0
        assert lab.head.file(f"{cache}/{name}").user == "spark"
    finally:
        worker.run(f"sudo rm -f {cache}/{name}")


def test_an_unmounted_cache_is_mounted_again_by_a_rerun_and_nothing_else_changes(lab, rerun_after_unmount):
    run = rerun_after_unmount[0]
    assert run.returncode == 0, run.stderr[-3000:]
    worker_name = lab.worker_names[-1]
    assert run.changed == [("nfs_client", "Mount the head's cache at the same path, now and at every boot", worker_name)]
    cache = lab.vars["cluster_hf_cache_dir"]
    mount = lab.hosts[worker_name].mount_point(cache)
    assert mount.exists and mount.filesystem == "nfs4"
