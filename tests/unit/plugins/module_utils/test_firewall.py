from __future__ import annotations

import pytest
from ansible_collections.stacked_sparks.vllm.plugins.module_utils import firewall as fw

CHAIN = "STACKED-SPARKS"
INPUT_WITH_JUMP = f"""-P INPUT ACCEPT
-A INPUT -m comment --comment stacked_sparks.vllm -j {CHAIN}
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
"""


def rules(families=("ipv4",), network="172.28.0.0/24", closed=("6379", "10002:10999")):
    return fw.rule_set(CHAIN, families, network, closed)


def listing(lines):
    """iptables -S CHAIN as the kernel prints it (the chain line, then the rules)."""
    return "\n".join([f"-N {CHAIN}", *lines]) + "\n"


@pytest.mark.parametrize("value, spec", [(8000, "8000"), ("6379", "6379"), ("10002:10999", "10002:10999"),
                                         ("32768\t60999\n", "32768:60999"), ("1:1", "1")])
def test_port_spec_takes_ports_ranges_and_the_kernels_range(value, spec):
    assert fw.port_spec(value) == spec


@pytest.mark.parametrize("value", ["", "http", "0", "65536", "10:5", "1-2", "1:2:3"])
def test_port_spec_refuses_what_is_not_a_port(value):
    with pytest.raises(fw.FirewallError, match="port"):
        fw.port_spec(value)


def test_port_groups_fit_multiport_counting_a_range_as_two():
    ports = [str(p) for p in range(1, 15)] + ["100:200", "14", "300"]
    groups = fw.port_groups(ports)
    assert groups == [[str(p) for p in range(1, 15)], ["100:200", "300"]]   # 14 ports and a range would be 16
    assert fw.port_groups([str(p) for p in range(1, 14)] + ["100:200"]) == [[str(p) for p in range(1, 14)] + ["100:200"]]
    assert all(sum(2 if ":" in p else 1 for p in g) <= fw.MULTIPORT_LIMIT for g in groups)


def test_rule_set_in_order_each_tagged_and_the_fabric_in_its_own_family():
    got = rules(families=("ipv4", "ipv6"))
    v4, v6 = got["ipv4"], got["ipv6"]
    assert [line.split('"')[1].split(": ")[1] for line in v4] == [
        "loopback", "the fabric network", "closed ports"]
    assert v4[0].startswith(f"-A {CHAIN} -i lo -m comment") and v4[0].endswith("-j RETURN")
    assert v4[1].startswith(f"-A {CHAIN} -s 172.28.0.0/24 ")
    assert v4[2].startswith(f"-A {CHAIN} -p tcp -m conntrack --ctstate NEW -m multiport --dports 6379,10002:10999 ")
    assert v4[2].endswith("-j DROP")
    assert len(v6) == 2 and not any(" -s " in line for line in v6)
    assert len({fw._tag(line) for line in v4 + v6}) == 1


def test_the_tag_changes_with_any_rule():
    tag = fw._tag(rules()["ipv4"][0])
    assert fw._tag(rules(closed=("6379", "10002:11000"))["ipv4"][0]) != tag
    assert fw._tag(rules(network="172.28.1.0/24")["ipv4"][0]) != tag
    assert fw._tag(rules(closed=("6380", "10002:10999"))["ipv4"][0]) != tag
    assert fw._tag(rules()["ipv4"][0]) == tag


def test_a_host_network_is_written_as_the_network():
    assert " -s 172.28.0.0/24 " in rules(network="172.28.0.11/24")["ipv4"][1]


def test_a_bad_network_is_named():
    with pytest.raises(fw.FirewallError, match="CIDR"):
        rules(network="fabric")


def test_in_place_when_the_kernel_lists_these_rules_and_input_jumps_first():
    desired = rules()["ipv4"]
    assert fw.in_place(desired, listing(desired), INPUT_WITH_JUMP, CHAIN)


@pytest.mark.parametrize("case", ["no chain", "rule removed", "rule added", "old tag", "no jump", "jump not first",
                                  "two jumps"])
def test_not_in_place(case):
    desired = rules()["ipv4"]
    chain, inp = listing(desired), INPUT_WITH_JUMP
    if case == "no chain":
        chain = None
    elif case == "rule removed":
        chain = listing(desired[:-1])
    elif case == "rule added":
        chain = listing([*desired, f"-A {CHAIN} -p tcp --dport 1 -j ACCEPT"])
    elif case == "old tag":
        chain = listing(rules(closed=("6379",))["ipv4"])
    elif case == "no jump":
        inp = "-P INPUT ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"
    elif case == "jump not first":
        inp = f"-P INPUT ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n-A INPUT -j {CHAIN}\n"
    elif case == "two jumps":
        inp = INPUT_WITH_JUMP + f"-A INPUT -j {CHAIN}\n"
    assert not fw.in_place(desired, chain, inp, CHAIN)


def test_restore_replaces_the_rules_and_the_jumps_in_one_transaction():
    desired = rules()["ipv4"]
    text = fw.restore_input(desired, CHAIN, INPUT_WITH_JUMP + f"-A INPUT -j {CHAIN}\n", chain_exists=True)
    lines = text.splitlines()
    assert lines[:3] == ["*filter", f":{CHAIN} - [0:0]", f"-F {CHAIN}"]
    assert lines[3:3 + len(desired)] == desired
    assert lines[3 + len(desired):] == [
        f"-D INPUT -m comment --comment stacked_sparks.vllm -j {CHAIN}", f"-D INPUT -j {CHAIN}",
        f'-I INPUT 1 -m comment --comment "stacked_sparks.vllm" -j {CHAIN}', "COMMIT"]


def test_restore_of_a_new_chain_flushes_nothing_and_deletes_no_jump():
    text = fw.restore_input(rules()["ipv4"], CHAIN, "-P INPUT ACCEPT\n", chain_exists=False)
    assert f"-F {CHAIN}" not in text and "-D INPUT" not in text


def test_removal_deletes_the_jumps_then_the_chain():
    assert fw.removal_input(CHAIN, INPUT_WITH_JUMP).splitlines() == [
        "*filter", f"-D INPUT -m comment --comment stacked_sparks.vllm -j {CHAIN}", f"-F {CHAIN}", f"-X {CHAIN}",
        "COMMIT"]
