from __future__ import annotations

from unittest import mock

import pytest
from ansible.module_utils import basic
from ansible_collections.stacked_sparks.vllm.plugins.modules import host_firewall

CHAIN = "STACKED-SPARKS"
REAL_OPEN = open
ARGS = {"fabric_network": "172.28.0.0/24", "closed_ports": ["6379", "ephemeral"]}


class FakeKernel:
    """iptables -S and iptables-restore of one family (IPv4), with the chain's and INPUT's rules."""

    def __init__(self, chain=None, input_rules=("-P INPUT ACCEPT",)):
        self.chain = chain            # None: no chain
        self.input = list(input_rules)
        self.restored = []

    def run_command(self, argv, data=None, binary_data=False):
        name = argv[0].rsplit("/", 1)[-1]
        if name == "iptables" and argv[-1] == CHAIN:
            return (1, "", "No chain/target/match by that name.") if self.chain is None else (
                0, "\n".join([f"-N {CHAIN}", *self.chain]) + "\n", "")
        if name == "iptables" and argv[-1] == "INPUT":
            return 0, "\n".join(self.input) + "\n", ""
        if name == "iptables-restore":
            self.restored.append(data)
            lines = data.splitlines()
            self.chain = [line for line in lines if line.startswith(f"-A {CHAIN} ")] if f"-X {CHAIN}" not in lines \
                else None
            self.input = ["-P INPUT ACCEPT"] + [line.replace("-I INPUT 1", "-A INPUT") for line in lines
                                                if line.startswith("-I INPUT")]
            return 0, "", ""
        raise AssertionError(f"unexpected command {argv}")


@pytest.fixture
def kernel(monkeypatch):
    fake = FakeKernel()
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, argv, **kw: fake.run_command(argv, **kw))
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, required=False: f"/usr/sbin/{name}")
    monkeypatch.setattr(host_firewall.os.path, "exists", lambda path: False)   # no IPv6
    opener = mock.mock_open(read_data="32768\t60999\n")
    monkeypatch.setattr("builtins.open", opener)
    return fake


def test_first_run_restores_the_chain_then_the_rerun_changes_nothing(run_module, kernel):
    first = run_module(host_firewall.main, ARGS)
    assert first["changed"] is True and len(kernel.restored) == 1
    assert "--dports 6379,32768:60999" in kernel.restored[0]
    assert first["diff"]["after"].count("ipv4: -A STACKED-SPARKS") == 3   # loopback, fabric, closed ports
    second = run_module(host_firewall.main, ARGS)
    assert second["changed"] is False and len(kernel.restored) == 1
    assert second["rules"]["ipv4"] == kernel.chain


def test_a_changed_port_replaces_the_chain(run_module, kernel):
    run_module(host_firewall.main, ARGS)
    result = run_module(host_firewall.main, dict(ARGS, closed_ports=["6380", "ephemeral"]))
    assert result["changed"] is True and len(kernel.restored) == 2
    assert "-D INPUT" in kernel.restored[1] and f"-F {CHAIN}" in kernel.restored[1]


def test_check_mode_reports_the_change_and_touches_nothing(run_module, kernel):
    result = run_module(host_firewall.main, dict(ARGS, _ansible_check_mode=True))
    assert result["changed"] is True and kernel.restored == []


def test_absent_removes_the_chain_and_then_has_nothing_to_do(run_module, kernel):
    run_module(host_firewall.main, ARGS)
    removed = run_module(host_firewall.main, {"state": "absent"})
    assert removed["changed"] is True and kernel.chain is None
    assert run_module(host_firewall.main, {"state": "absent"})["changed"] is False


def test_a_bad_port_is_named_before_anything_runs(run_module, kernel):
    result = run_module(host_firewall.main, dict(ARGS, closed_ports=["ray"]))
    assert result["failed"] and "'ray'" in result["msg"] and "closed_ports" in result["msg"]
    assert kernel.restored == []


def test_a_refused_restore_fails_with_the_tool_s_words(run_module, kernel, monkeypatch):
    monkeypatch.setattr(kernel, "run_command", lambda argv, data=None, binary_data=False: (
        (2, "", "iptables-restore: line 3 failed") if "restore" in argv[0] else FakeKernel.run_command(kernel, argv)))
    result = run_module(host_firewall.main, ARGS)
    assert result["failed"] and "line 3 failed" in result["msg"]


def test_the_rules_kept_in_a_file_put_the_chain_back_on_a_node_without_it(run_module, kernel, monkeypatch, tmp_path):
    monkeypatch.setattr("builtins.open", REAL_OPEN)
    ephemeral = tmp_path / "ip_local_port_range"
    ephemeral.write_text("32768\t60999\n")
    monkeypatch.setattr(host_firewall, "EPHEMERAL", str(ephemeral))
    rules_dir = tmp_path / "firewall"
    first = run_module(host_firewall.main, dict(ARGS, rules_dir=str(rules_dir)))
    kept = rules_dir / f"{CHAIN}.ipv4"
    assert first["changed"] is True and oct(kept.stat().st_mode & 0o777) == "0o600"
    assert run_module(host_firewall.main, dict(ARGS, rules_dir=str(rules_dir)))["changed"] is False
    booted = FakeKernel()                         # after a boot: no chain, INPUT as the kernel starts it
    booted.run_command(["iptables-restore", "-w", "10", "--noflush"], data=kept.read_text())
    assert booted.chain == kernel.chain and booted.input == kernel.input
    kept.write_text("stale")                      # a file that differs is written again
    assert run_module(host_firewall.main, dict(ARGS, rules_dir=str(rules_dir)))["changed"] is True
    assert run_module(host_firewall.main, {"state": "absent", "rules_dir": str(rules_dir)})["changed"] is True
    assert not kept.exists()
