"""ssh_trust: the head logs into every worker by key, with strict host key checking and no prompt."""

from __future__ import annotations

import pytest

STRICT = "-o BatchMode=yes -o StrictHostKeyChecking=yes -o PasswordAuthentication=no -o ConnectTimeout=20"


def _host_key(host) -> str:
    return " ".join(host.file("/etc/ssh/ssh_host_ed25519_key.pub").content_string.split()[:2])


@pytest.mark.parametrize("index", [0, 1], ids=["worker-1", "worker-2"])
@pytest.mark.parametrize("by", ["fabric address", "inventory name"])
def test_the_head_logs_into_the_worker_by_key_with_strict_host_key_checking(lab, index, by):
    name = lab.worker_names[index]
    target = lab.fabric_ip(name) if by == "fabric address" else name
    # as the head user (the roles' default: the user Ansible connects as), with its own key and known_hosts
    assert lab.head.user().name == "spark"
    out = lab.head.run(f"ssh {STRICT} spark@{target} hostname")
    assert out.rc == 0, out.stderr
    assert out.stdout.strip() == name


def test_every_node_has_a_host_key_of_its_own(lab):
    keys = {_host_key(host) for host in lab.hosts.values()}
    assert len(keys) == len(lab.hosts)


@pytest.mark.parametrize("index", [0, 1], ids=["worker-1", "worker-2"])
def test_the_head_knows_the_worker_by_its_real_host_key(lab, index):
    name = lab.worker_names[index]
    expected = _host_key(lab.hosts[name])
    for target in (lab.fabric_ip(name), name):
        entries = lab.head.check_output(f"ssh-keygen -F {target} -f ~/.ssh/known_hosts | grep -v '^#'").splitlines()
        assert [" ".join(entry.split()[1:3]) for entry in entries] == [expected], (target, entries)


@pytest.mark.parametrize("index", [0, 1], ids=["worker-1", "worker-2"])
def test_the_head_key_is_authorized_on_the_worker(lab, index):
    head_key = lab.head.file("/home/spark/.ssh/id_ed25519")
    assert head_key.mode == 0o600 and head_key.user == "spark"
    public = " ".join(lab.head.file("/home/spark/.ssh/id_ed25519.pub").content_string.split()[:2])
    worker = lab.workers[index]
    authorized = worker.file("/home/spark/.ssh/authorized_keys")
    assert authorized.user == "spark" and authorized.mode == 0o600
    assert [" ".join(line.split()[:2]) for line in authorized.content_string.splitlines() if line.strip()] == [public]


def test_without_the_known_hosts_entry_the_login_is_refused(lab):
    """The check is strict for real: an unknown host key stops the login instead of being accepted."""
    # ssh's own failure is exit code 255, which testinfra's SSH backend takes for its own: report it in stdout
    target = f"spark@{lab.fabric_ip(lab.worker_names[0])}"
    out = lab.head.check_output(f"ssh {STRICT} -o UserKnownHostsFile=/dev/null {target} true 2>&1; echo rc=$?")
    assert out.splitlines()[-1] == "rc=255", out
    assert "Host key verification failed" in out


def test_rerunning_ssh_trust_changes_nothing(rerun_after_unmount):
    run = rerun_after_unmount[0]
    assert run.returncode == 0, run.stderr[-3000:]
    assert [change for change in run.changed if change[0] == "ssh_trust"] == []
    assert run.stats  # the run did reach every node
    assert set(run.stats) >= {"vm-head", "vm-worker-1", "vm-worker-2"}
