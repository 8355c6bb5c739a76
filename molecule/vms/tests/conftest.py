"""Fixtures of the VM lab's tests (molecule/vms): the nodes, the cluster settings, one rerun of the site playbook.

molecule's verify step runs pytest with --connection=ansible --ansible-inventory=<its inventory>, as root on the
controller; every node is reached over SSH as the lab user (spark), the user the roles were deployed with.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import testinfra
import yaml
from testinfra.utils.ansible_runner import AnsibleRunner

SCENARIO_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = SCENARIO_DIR.parent.parent
# The tags molecule.yml gives converge and idempotence.
SITE_TAGS = "fabric_mtu,nfs_server,nfs_client,ssh_trust,image_pull"
VM_CACHE = Path(os.environ.get("SPARKS_VM_CACHE", str(Path.home() / ".cache/stacked-sparks/vm")))
REGISTRY_LOG = VM_CACHE / "run" / "registry.log"
# One access-log line of the registry: client address, method, path.
ACCESS_LINE = re.compile(r'^(\S+) - \S+ \[[^\]]*\] "([A-Z]+) (/v2/\S*) HTTP/[0-9.]+"')


def role_documented_defaults(role: str) -> dict:
    """The defaults a role documents in meta/argument_specs.yml, by option name."""
    spec = yaml.safe_load((REPO_DIR / "roles" / role / "meta" / "argument_specs.yml").read_text())
    return {name: option.get("default") for name, option in spec["argument_specs"]["main"]["options"].items()}


def registry_requests(repository: str) -> Counter:
    """Requests for an image repository in the lab registry's access log, counted by client address."""
    counts: Counter = Counter()
    if not REGISTRY_LOG.exists():
        return counts
    for line in REGISTRY_LOG.read_text(errors="replace").splitlines():
        match = ACCESS_LINE.match(line)
        if match and match.group(3).startswith(f"/v2/{repository}/"):
            counts[match.group(1)] += 1
    return counts


@dataclass
class PlaybookRun:
    """What one ansible-playbook run did, from the ansible.posix.json callback."""

    returncode: int
    stats: dict
    # (role, task, host) of every changed result; role is the role's short name, or "" for a play's own task
    changed: list[tuple[str, str, str]] = field(default_factory=list)
    stderr: str = ""
    # host -> the messages of its failed results
    messages: dict = field(default_factory=dict)


@dataclass
class Lab:
    inventory: str
    head_name: str
    worker_names: list[str]
    hosts: dict
    vars: dict

    @property
    def head(self):
        return self.hosts[self.head_name]

    @property
    def workers(self):
        return [self.hosts[name] for name in self.worker_names]

    def fabric_ip(self, name: str) -> str:
        iface = self.vars["cluster_fabric_interface"]
        addresses = [a for a in self.hosts[name].interface(iface).addresses if ":" not in a]
        assert addresses, f"{name} has no IPv4 address on {iface}"
        return addresses[0]

    @property
    def fabric_network(self) -> ipaddress.IPv4Network:
        return ipaddress.ip_network(self.vars["cluster_fabric_network"])

    def run_site(self, tags: str = SITE_TAGS) -> PlaybookRun:
        """Run the scenario's converge playbook (the site playbook) again with these tags."""
        playbook = Path(sys.executable).with_name("ansible-playbook")
        command = [str(playbook) if playbook.exists() else shutil.which("ansible-playbook") or "ansible-playbook"]
        env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1")
        proc = subprocess.run(
            [*command, "-i", self.inventory, "--tags", tags, str(SCENARIO_DIR / "converge.yml")],
            env=env,
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
        try:
            # the JSON document, then possibly other callbacks' lines (ansible.posix.timer)
            data = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{") :])[0]
        except ValueError:
            pytest.fail(f"ansible-playbook gave no JSON (rc={proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        changed = [
            (*_role_and_task(task["task"]["name"]), host)
            for play in data["plays"]
            for task in play["tasks"]
            for host, result in task["hosts"].items()
            if result.get("changed")
        ]
        messages: dict = {}
        for play in data["plays"]:
            for task in play["tasks"]:
                for host, result in task["hosts"].items():
                    if result.get("failed"):
                        messages.setdefault(host, []).append(str(result.get("msg", "")))
        return PlaybookRun(proc.returncode, data["stats"], changed, proc.stderr,
                           {host: "\n".join(found) for host, found in messages.items()})


@pytest.fixture(scope="session")
def lab(request) -> Lab:
    inventory = request.config.option.ansible_inventory or os.environ.get("MOLECULE_INVENTORY_FILE")
    assert inventory, "run through molecule (or give --ansible-inventory)"
    runner = AnsibleRunner(inventory)
    heads = runner.get_hosts("ray_head")
    workers = sorted(runner.get_hosts("ray_workers"))
    assert len(heads) == 1, heads
    hosts = {name: testinfra.get_host(f"ansible://{name}", ansible_inventory=inventory) for name in [*heads, *workers]}
    return Lab(inventory, heads[0], workers, hosts, runner.get_variables(heads[0]))


@pytest.fixture(scope="session")
def rerun_after_unmount(lab):
    """The cache unmounted by hand on the last worker, then the site playbook run once more.

    Returns (the run, registry requests before, registry requests after, image ids before).
    """
    worker = lab.hosts[lab.worker_names[-1]]
    cache = lab.vars["cluster_hf_cache_dir"]
    repository = lab.vars["cluster_image"].split("/", 1)[1].rsplit(":", 1)[0]
    image_ids = {name: _image_id(host, lab.vars["cluster_image"]) for name, host in lab.hosts.items()}
    worker.run_expect([0], f"sudo umount {cache}")
    assert not worker.mount_point(cache).exists
    before = registry_requests(repository)
    # nfs_server's own rerun is molecule's idempotence step; this one is about the workers, the trust and the image
    run = lab.run_site("nfs_client,ssh_trust,image_pull")
    after = registry_requests(repository)
    return run, before, after, image_ids


def _role_and_task(name: str) -> tuple[str, str]:
    """ "stacked_sparks.vllm.nfs_client : Mount ..." -> ("nfs_client", "Mount ...")."""
    role, sep, task = name.partition(" : ")
    return (role.rsplit(".", 1)[-1], task) if sep else ("", name)


def _image_id(host, image: str) -> str:
    return host.check_output(f"sudo docker image inspect --format '{{{{.Id}}}}' {image}").strip()
