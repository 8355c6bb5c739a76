"""The fabric's collective test: the pure functions of module_utils/collective.py.

The NCCL lines below are copied verbatim from public NCCL logs, each under the URL of the GitHub issue it was
posted in. The one line that is not a capture (GID index of a RoCE connection) is marked as built from NCCL's
format string.
"""

from __future__ import annotations

import json
import math

import pytest
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.collective import (
    MARK,
    bandwidths,
    check_sizes,
    collective_args,
    collective_report,
    format_size,
    gloo_transport,
    judge_collective,
    nccl_transport,
    parse_size,
    summary_lines,
    transport_line,
)

# --- real NCCL_DEBUG=INFO lines --------------------------------------------------------------------------------

# RoCE: eight mlx5 RoCE devices through NCCL's IB plugin (NCCL 2.22.3). https://github.com/NVIDIA/nccl/issues/1538
# The long NET/IB line is split across source lines; its text is verbatim.
ROCE_USING = (
    "job-3bb823c0-6d27-4312-8094-1c5910bf9b51-worker-0:5665:5733 [2] NCCL INFO Using network IBext_v8\n"
    "job-3bb823c0-6d27-4312-8094-1c5910bf9b51-worker-0:5664:5734 [1] NCCL INFO NET/IB : Using [0]mlx5_0:1/RoCE "
    "[1]mlx5_1:1/RoCE [2]mlx5_2:1/RoCE [3]mlx5_3:1/RoCE [4]mlx5_4:1/RoCE [5]mlx5_5:1/RoCE [6]mlx5_6:1/RoCE "
    "[7]mlx5_7:1/RoCE [RO]; OOB eth0:172.24.180.73<0>\n"
)
ROCE_DEVICES = [f"mlx5_{n}" for n in range(8)]

# Inter-node channels over NET/IB with GPUDirect RDMA, among intra-node P2P ones.
# https://github.com/NVIDIA/nccl/issues/687
IB_CHANNELS = """\
cosmos-hpc-100a45:985927:986028 [3] NCCL INFO Channel 00 : 3[4a000] -> 6[44000] [send] via NET/IB/0/GDRDMA
cosmos-hpc-100a45:985927:986028 [3] NCCL INFO Channel 01 : 3[4a000] -> 6[44000] [send] via NET/IB/0/GDRDMA
cosmos-hpc-100a45:985925:986027 [1] NCCL INFO Channel 00 : 1[a000] -> 0[7000] via P2P/IPC/read
cosmos-hpc-100a55:3138491:3138597 [3] NCCL INFO Channel 00 : 7[4a000] -> 2[44000] [send] via NET/IB/0/GDRDMA
cosmos-hpc-100a55:3138491:3138597 [3] NCCL INFO Channel 01 : 7[4a000] -> 2[44000] [send] via NET/IB/0/GDRDMA
cosmos-hpc-100a45:985924:986013 [0] NCCL INFO Connected all rings
"""

# Receive channels on other NET/IB devices. https://github.com/NVIDIA/nccl/issues/707
IB_RECEIVE = """\
10-90-43-152:120890:121560 [0] NCCL INFO Channel 01 : 2[c7000] -> 0[87000] [receive] via NET/IB/5/GDRDMA
10-90-43-152:120890:121563 [3] NCCL INFO Channel 02 : 2[c7000] -> 3[ca000] [receive] via NET/IB/0/GDRDMA
"""

# The GID index set for RoCE v2, among P2P lines. https://github.com/NVIDIA/nccl/issues/1814
GID_ENV = """\
hostname-test:985:1263 [5] NCCL INFO Channel 00/0 : 37[5] -> 36[4] via P2P/CUMEM
hostname-test:987:1347 [7] NCCL INFO NCCL_IB_GID_INDEX set by environment to 3.
"""

# Two nodes with one GPU each over TCP (nccl-tests all_reduce_perf). https://github.com/NVIDIA/nccl-tests/issues/284
SOCKET_CHANNELS = """\
agzen-master:3867861:3867877 [0] NCCL INFO Channel 00/0 : 1[0] -> 0[0] [receive] via NET/Socket/0
agzen-master:3867861:3867877 [0] NCCL INFO Channel 01/0 : 1[0] -> 0[0] [receive] via NET/Socket/0
agzen-master:3867861:3867877 [0] NCCL INFO Channel 00/0 : 0[0] -> 1[0] [send] via NET/Socket/0
agzen-master:3867861:3867877 [0] NCCL INFO Channel 01/0 : 0[0] -> 1[0] [send] via NET/Socket/0
agzen-worker:475220:475232 [0] NCCL INFO Channel 00/0 : 0[0] -> 1[0] [receive] via NET/Socket/0
agzen-worker:475220:475232 [0] NCCL INFO Channel 01/0 : 0[0] -> 1[0] [receive] via NET/Socket/0
agzen-worker:475220:475232 [0] NCCL INFO Channel 00/0 : 1[0] -> 0[0] [send] via NET/Socket/0
agzen-worker:475220:475232 [0] NCCL INFO Channel 01/0 : 1[0] -> 0[0] [send] via NET/Socket/0
agzen-master:3867861:3867877 [0] NCCL INFO Connected all trees
"""

# No IB device, sockets on ens3 (NCCL 2.4.7, several nodes). https://github.com/NVIDIA/nccl/issues/226
SOCKET_USING = """\
ip-172-31-0-11:45384:45384 [0] NCCL INFO NET/IB : No device found.
ip-172-31-10-182:45407:45407 [0] NCCL INFO NET/Socket : Using [0]ens3:172.31.10.182<0>
ip-172-31-15-113:11434:11434 [0] NCCL INFO NET/Socket : Using [0]ens3:172.31.15.113<0>
"""

# Two socket interfaces, and NCCL 2.5's "Ring" lines. https://github.com/NVIDIA/nccl/issues/278
SOCKET_TWO = """\
sh-01:98911:98911 [0] NCCL INFO Bootstrap : Using [0]enP1p1s0f0:10.30.0.127<0> [1]enP1p1s0f1:10.30.0.227<0>
sh-01:98911:98911 [0] NCCL INFO NET/Socket : Using [0]enP1p1s0f0:10.30.0.127<0> [1]enP1p1s0f1:10.30.0.227<0>
sh-03:97552:97552 [0] NCCL INFO NET/Socket : Using [0]enP1p1s0f0:10.30.0.129<0> [1]enP1p1s0f1:10.30.0.229<0>
sh-01:98911:98923 [3] NCCL INFO Ring 00 : 3[b01000] -> 4[201000] [send] via NET/Socket/0
sh-03:97552:97571 [3] NCCL INFO Ring 00 : 7[b01000] -> 0[201000] [send] via NET/Socket/0
sh-03:97552:97570 [2] NCCL INFO Ring 01 : 0[201000] -> 6[a01000] [receive] via NET/Socket/0
sh-03:97552:97567 [0] NCCL INFO Ring 01 : 3[b01000] -> 4[201000] [receive] via NET/Socket/0
"""

# IB disabled, the network chosen by name. https://github.com/NVIDIA/nccl/issues/1053
SOCKET_NETWORK = """\
axa:3048391:3048566 [0] NCCL INFO NCCL_IB_DISABLE set by environment to 1.
axa:3048391:3048566 [0] NCCL INFO NCCL_SOCKET_IFNAME set by environment to lo
axa:3048391:3048566 [0] NCCL INFO NET/Socket : Using [0]lo:127.0.0.1<0>
axa:3048391:3048566 [0] NCCL INFO Using network Socket
axa:3048391:3048566 [0] NCCL INFO NET/Socket : GPU Direct RDMA Disabled for HCA 0 'lo'
"""

# Older NCCL logs NET/Socket's interfaces even where it then uses NET/IB. https://github.com/NVIDIA/nccl-tests/issues/29
BOTH_USING = """\
server3:15223:15223 [7] NCCL INFO NET/Socket : Using [0]enp41s0f1:<0> [1]virbr0:<0>
server3:15221:15221 [5] NCCL INFO NET/IB : Using [0]mlx5_0:1/IB ; OOB enp41s0f1:<0>
server1:117953:117953 [7] NCCL INFO NET/Socket : Using [0]enp41s0f1:<0>
server1:117953:117953 [7] NCCL INFO NET/IB : Using [0]mlx5_1:1/IB ; OOB enp41s0f1:<0>
"""

# Socket channels of one rank among P2P ones (hostname redacted by the reporter).
# https://github.com/NVIDIA/nccl/issues/952
SOCKET_AMONG_P2P = """\
<cluster_name>:919:1150 [0] NCCL INFO Channel 01/0 : 8[0] -> 15[7] via P2P/IPC/read
<cluster_name>:926:1151 [7] NCCL INFO Channel 03/0 : 15[7] -> 6[6] [send] via NET/Socket/3
<cluster_name>:926:1151 [7] NCCL INFO Channel 07/0 : 15[7] -> 6[6] [send] via NET/Socket/3
"""

# Lines that say nothing of the transport used. https://github.com/NVIDIA/nccl/issues/810 (NET/IB : No device found)
# and https://github.com/NVIDIA/nccl/issues/426 (a WARN line)
UNREADABLE = """\
ubuntu1-NF5588M4S:11567:11697 [0] NCCL INFO NET/IB : No device found.
-worker-1:946:988 [0] transport/net_ib.cc:839 NCCL WARN NET/IB : Got completion with error 12, opcode 1, len 0, vendor err 129
"""

NONE = {"ib": 0, "socket": 0}


# --- bandwidths ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("op, size, seconds, ranks, algbw, busbw", [
    # 256 MiB in 12.5 ms = 21.47483648 GB/s; all_gather over 2 ranks: x 1/2, all_reduce: x 2*1/2
    ("all_gather", 268435456, 0.0125, 2, 21.47483648, 10.73741824),
    ("all_reduce", 268435456, 0.0125, 2, 21.47483648, 21.47483648),
    # 1e9 bytes in 0.1 s = 10 GB/s; over 4 ranks all_gather x 3/4, all_reduce x 6/4
    ("all_gather", 1_000_000_000, 0.1, 4, 10.0, 7.5),
    ("all_reduce", 1_000_000_000, 0.1, 4, 10.0, 15.0),
    # one rank moves nothing over the bus
    ("all_reduce", 16777216, 0.001, 1, 16.777216, 0.0),
])
def test_bandwidths(op, size, seconds, ranks, algbw, busbw):
    got = bandwidths(op, size, seconds, ranks)
    assert got == (pytest.approx(algbw, rel=1e-12), pytest.approx(busbw, rel=1e-12, abs=1e-15))


@pytest.mark.parametrize("args, fragment", [
    (("broadcast", 1024, 0.1, 2), "op must be one of all_gather, all_reduce, got 'broadcast'"),
    (("all_gather", 0, 0.1, 2), "size must be a positive number (all_gather), got 0"),
    (("all_gather", -5, 0.1, 2), "size must be a positive number"),
    (("all_reduce", 1024, 0, 2), "seconds must be a positive number (all_reduce), got 0"),
    (("all_reduce", 1024, -0.5, 2), "seconds must be a positive number"),
    (("all_reduce", 1024, math.nan, 2), "seconds must be a positive number"),
    (("all_reduce", 1024, 0.1, 0), "ranks must be a positive whole number (all_reduce), got 0"),
    (("all_reduce", 1024, 0.1, 2.0), "ranks must be a positive whole number"),
    (("all_reduce", True, 0.1, 2), "size must be a positive number"),
])
def test_bandwidths_rejects(args, fragment):
    with pytest.raises(ValueError) as err:
        bandwidths(*args)
    assert fragment in str(err.value)


# --- sizes -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, size", [
    (4096, 4096),
    ("4096", 4096),
    ("16k", 16384),
    ("16K", 16384),
    ("1M", 1048576),
    ("256MiB", 268435456),
    ("1G", 1073741824),
    ("2 GiB", 2147483648),
    ("1mb", 1048576),
    ("512B", 512),
    (" 8M ", 8388608),
])
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["1.5M", "0", 0, -1, "M", "1X", "16 KB B", "", True, None, 1.0, "1e6"])
def test_parse_size_rejects(text):
    with pytest.raises(ValueError) as err:
        parse_size(text)
    assert str(err.value).startswith(f"fabric_sizes: cannot read {text!r} as a message size")


@pytest.mark.parametrize("size, text", [
    (16777216, "16 MiB"), (1024, "1 KiB"), (1572864, "1536 KiB"), (1073741824, "1 GiB"), (1000, "1000 B"),
    (1536, "1536 B"), (3, "3 B"),
])
def test_format_size(size, text):
    assert format_size(size) == text


# --- NCCL's transport ------------------------------------------------------------------------------------------

def test_roce_using_line():
    assert nccl_transport(ROCE_USING) == {"kind": "ib", "devices": ROCE_DEVICES, "interfaces": ["eth0"],
                                          "gid_index": None, "channels": NONE}


def test_ib_channels():
    assert nccl_transport(IB_CHANNELS + IB_RECEIVE) == {"kind": "ib", "devices": [], "interfaces": [],
                                                        "gid_index": None, "channels": {"ib": 6, "socket": 0}}


def test_gid_index_set_by_environment():
    assert nccl_transport(GID_ENV) == {"kind": None, "devices": [], "interfaces": [], "gid_index": 3,
                                       "channels": NONE}


def test_roce_log_of_all_ranks():
    assert nccl_transport(ROCE_USING + IB_CHANNELS + GID_ENV) == {
        "kind": "ib", "devices": ROCE_DEVICES, "interfaces": ["eth0"], "gid_index": 3,
        "channels": {"ib": 4, "socket": 0}}


def test_gid_index_of_the_connections_wins():
    # Not a capture: built from NCCL's format string for RoCE connections (NVIDIA/nccl src/transport/net_ib.cc,
    # "NET/IB: %s %d IbDev %d Port %d qpn %d mtu %d GID %ld (%lX/%lX) ..."), which no public log found here shows.
    connection = "spark-1:100:200 [0] NCCL INFO NET/IB: NCCL Dev 0 IbDev 0 Port 1 qpn 300 mtu 5 GID 5 (80FE/0)\n"
    assert nccl_transport(GID_ENV + connection)["gid_index"] == 5


def test_socket_channels_and_interfaces():
    assert nccl_transport(SOCKET_USING + SOCKET_CHANNELS) == {
        "kind": "socket", "devices": [], "interfaces": ["ens3"], "gid_index": None,
        "channels": {"ib": 0, "socket": 8}}


def test_socket_using_line_alone():
    assert nccl_transport(SOCKET_USING) == {"kind": "socket", "devices": [], "interfaces": ["ens3"],
                                            "gid_index": None, "channels": NONE}


def test_two_socket_interfaces_and_ring_lines():
    assert nccl_transport(SOCKET_TWO) == {"kind": "socket", "devices": [], "interfaces": ["enP1p1s0f0", "enP1p1s0f1"],
                                          "gid_index": None, "channels": {"ib": 0, "socket": 4}}


def test_using_network_socket():
    assert nccl_transport(SOCKET_NETWORK) == {"kind": "socket", "devices": [], "interfaces": ["lo"],
                                              "gid_index": None, "channels": NONE}


def test_ib_using_line_wins_over_socket_using_line():
    assert nccl_transport(BOTH_USING) == {"kind": "ib", "devices": ["mlx5_0", "mlx5_1"], "interfaces": ["enp41s0f1"],
                                          "gid_index": None, "channels": NONE}


def test_socket_using_line_lists_every_interface():
    first = BOTH_USING.splitlines()[0]
    assert nccl_transport(first)["interfaces"] == ["enp41s0f1", "virbr0"]


def test_p2p_channels_do_not_count():
    assert nccl_transport(SOCKET_AMONG_P2P)["channels"] == {"ib": 0, "socket": 2}


def test_any_ib_channel_makes_it_ib():
    # channels over sockets say nothing against channels over IB seen elsewhere in the log
    assert nccl_transport(SOCKET_AMONG_P2P + IB_RECEIVE)["kind"] == "ib"


def test_channels_win_over_using_lines():
    # NET/IB listed its devices, yet the channels went over sockets: what the channels used is what was used
    found = nccl_transport(ROCE_USING.splitlines()[1] + "\n" + SOCKET_CHANNELS)
    assert (found["kind"], found["devices"], found["interfaces"]) == ("socket", [], [])


def test_prefixes_before_nccl_info():
    # a real line from NVIDIA/nccl#1538 behind a timestamp and a launcher's prefix, as a container log may show it
    line = "2025-01-10T08:00:00.123456789Z (RayWorkerWrapper pid=5664) " + ROCE_USING.splitlines()[1]
    assert nccl_transport(line)["devices"] == ROCE_DEVICES


@pytest.mark.parametrize("text", [UNREADABLE, "", None, "NET/IB : Using [0]mlx5_0:1/RoCE ; OOB eth0:10.0.0.1<0>"])
def test_nothing_readable(text):
    # the last one lacks "NCCL INFO": not a line of NCCL's
    assert nccl_transport(text) == {"kind": None, "devices": [], "interfaces": [], "gid_index": None,
                                    "channels": NONE}


def test_gloo_transport():
    assert gloo_transport("eth0") == {"kind": "socket", "devices": [], "interfaces": ["eth0"], "gid_index": None,
                                      "channels": NONE}


# --- judging ---------------------------------------------------------------------------------------------------

def result(op, size, busbw, seconds=0.01, algbw=1.0):
    return {"op": op, "size": size, "seconds": seconds, "algbw": algbw, "busbw": busbw}


MIB = 2**20
GOOD = [result("all_gather", 16 * MIB, 12.0), result("all_gather", 256 * MIB, 23.7),
        result("all_reduce", 256 * MIB, 22.9)]
IB = {"kind": "ib", "devices": ["rocep1s0f1", "roceP2p1s0f1"], "interfaces": ["enp1s0f1np1"], "gid_index": 3,
      "channels": {"ib": 4, "socket": 0}}
SLOW = ("all_gather busbw at 256 MiB is 18.40 GB/s, under fabric_min_busbw 21.875 GB/s: check MTU 9000 on "
        "cluster_fabric_interface on both nodes (and the switch, if any), that cluster_nccl_ib_hca lists both RoCE "
        "devices of the port, and the cable; NVIDIA's pass mark is 21.875 GB/s of the 25 GB/s line rate")
TCP = ("NCCL used TCP sockets on ens3 although the nodes have RDMA devices on the fabric: check that the containers "
       "get /dev/infiniband, IPC_LOCK and an unlimited memlock (cluster_rdma), and that cluster_nccl_ib_hca names "
       "the RoCE devices of cluster_fabric_interface")
SILENT = ("NCCL did not log its transport (no NET/IB or NET/Socket line in its NCCL_DEBUG=INFO output), so whether "
          "it used RDMA is unknown: run every rank with NCCL_DEBUG=INFO, and with INIT in NCCL_DEBUG_SUBSYS if that "
          "is set")
EMPTY = ("the collective test gave no results: no all_gather or all_reduce finished at any size of fabric_sizes; "
         "read the ranks' output above for the error")


def test_judge_pass():
    assert judge_collective(GOOD, IB, True, 21.875) == []


def test_judge_pass_in_the_lab():
    # Gloo over TCP on nodes without RDMA, no pass mark
    assert judge_collective([result("all_gather", 16 * MIB, 0.4)], gloo_transport("eth0"), False, 0) == []


def test_judge_busbw_under_the_pass_mark():
    slow = [result("all_gather", 16 * MIB, 30.0), result("all_gather", 256 * MIB, 18.4),
            result("all_reduce", 256 * MIB, 23.0)]
    assert judge_collective(slow, IB, True, 21.875) == [SLOW]


def test_judge_takes_the_largest_all_gather_size():
    # slow at 16 MiB and in all_reduce, fast enough at the largest all_gather size: a pass
    fast_at_largest = [result("all_gather", 16 * MIB, 5.0), result("all_gather", 256 * MIB, 22.0),
                       result("all_reduce", 256 * MIB, 3.0)]
    assert judge_collective(fast_at_largest, IB, True, 21.875) == []


def test_judge_without_pass_mark():
    slow = [result("all_gather", 256 * MIB, 18.4)]
    assert judge_collective(slow, IB, True, 0) == []
    assert judge_collective(slow, IB, True, None) == []


def test_judge_sockets_despite_rdma():
    transport = nccl_transport(SOCKET_USING + SOCKET_CHANNELS)
    assert judge_collective(GOOD, transport, True, 21.875) == [TCP]


def test_judge_sockets_without_rdma():
    transport = nccl_transport(SOCKET_USING + SOCKET_CHANNELS)
    assert judge_collective(GOOD, transport, False, 21.875) == []


def test_judge_sockets_on_unnamed_interfaces():
    transport = nccl_transport(SOCKET_CHANNELS)
    assert judge_collective(GOOD, transport, True, 0) == [TCP.replace("on ens3", "on an interface NCCL did not name")]


def test_judge_transport_not_logged():
    assert judge_collective(GOOD, nccl_transport(UNREADABLE), True, 21.875) == [SILENT]
    assert judge_collective(GOOD, nccl_transport(UNREADABLE), False, 21.875) == []


def test_judge_no_results():
    assert judge_collective([], IB, True, 21.875) == [EMPTY]
    assert judge_collective(None, gloo_transport("eth0"), False, 0) == [EMPTY]


def test_judge_no_all_gather():
    only_reduce = [result("all_reduce", 256 * MIB, 23.0)]
    assert judge_collective(only_reduce, IB, True, 21.875) == [
        "no all_gather result to hold against fabric_min_busbw 21.875 GB/s: keep all_gather in the test, or set "
        "fabric_min_busbw to 0"]


def test_judge_every_problem_at_once():
    slow_on_tcp = [result("all_gather", 256 * MIB, 18.4)]
    transport = nccl_transport(SOCKET_USING)
    assert judge_collective(slow_on_tcp, transport, True, 21.875) == [TCP, SLOW]


@pytest.mark.parametrize("min_busbw", [-1, "21", True, math.nan])
def test_judge_rejects_pass_mark(min_busbw):
    with pytest.raises(ValueError, match="fabric_min_busbw must be a number of GB/s"):
        judge_collective(GOOD, IB, True, min_busbw)


@pytest.mark.parametrize("results, fragment", [
    ([{"op": "all_gather", "size": 1}], "collective result 1 lacks seconds, algbw, busbw"),
    ([GOOD[0], result("broadcast", 1, 1.0)], "collective result 2 has op 'broadcast'"),
    (["all_gather"], "collective result 1 is str, not a mapping"),
])
def test_judge_rejects_results(results, fragment):
    with pytest.raises(ValueError) as err:
        judge_collective(results, IB, True, 0)
    assert fragment in str(err.value)


# --- report ----------------------------------------------------------------------------------------------------

def test_summary_lines():
    results = [
        {"op": "all_reduce", "size": 256 * MIB, "seconds": 0.0125, "algbw": 21.47483648, "busbw": 21.47483648},
        {"op": "all_gather", "size": 16 * MIB, "seconds": 0.00125, "algbw": 13.4217728, "busbw": 6.7108864},
        {"op": "all_gather", "size": 1024, "seconds": 0.00002, "algbw": 0.0512, "busbw": 0.0256},
    ]
    assert summary_lines(results, IB) == [
        "op               size    time ms algbw GB/s busbw GB/s",
        "all_gather      1 KiB      0.020       0.05       0.03",
        "all_gather     16 MiB      1.250      13.42       6.71",
        "all_reduce    256 MiB     12.500      21.47      21.47",
        "transport: NET/IB on rocep1s0f1, roceP2p1s0f1 (GID index 3)",
    ]


def test_summary_lines_without_results():
    assert summary_lines([], gloo_transport("eth0")) == [
        "op               size    time ms algbw GB/s busbw GB/s",
        "transport: sockets on eth0",
    ]


@pytest.mark.parametrize("text, line", [
    (ROCE_USING + IB_CHANNELS + GID_ENV, "transport: NET/IB on " + ", ".join(ROCE_DEVICES) + " (GID index 3)"),
    (IB_CHANNELS, "transport: NET/IB"),
    (SOCKET_TWO, "transport: sockets on enP1p1s0f0, enP1p1s0f1"),
    (SOCKET_CHANNELS, "transport: sockets"),
    (UNREADABLE, "transport: unknown (no NET/IB or NET/Socket line was logged)"),
])
def test_transport_line(text, line):
    assert transport_line(nccl_transport(text)) == line


# --- the test's command line and its outcome ---------------------------------------------------------------------

ARGS = {"backend": "gloo", "master": "172.28.0.11:29502", "nodes": 2, "node_rank": 1, "ranks_per_node": 1,
        "ops": ["all_gather", "all_reduce"], "sizes": ["64K", "1M", 4096], "iterations": 5, "warmup": 2, "timeout": 600}


def test_collective_args():
    assert collective_args(ARGS) == [
        "--backend", "gloo", "--master", "172.28.0.11:29502", "--nodes", "2", "--node-rank", "1",
        "--ranks-per-node", "1", "--ops", "all_gather", "all_reduce", "--sizes", "65536", "1048576", "4096",
        "--iters", "5", "--warmup", "2", "--timeout", "600"]


def test_sizes_are_bounded_at_4_gib():
    assert check_sizes(["4G", "1M"]) == [4 * 2**30, 2**20]
    with pytest.raises(ValueError, match=r"fabric_sizes: '16G' is above 4G, the largest size the collection runs: "
                                         r"a test with a 16 GiB buffer froze a Spark"):
        check_sizes(["1M", "16G"])
    with pytest.raises(ValueError, match="fabric_sizes must list at least one message size"):
        check_sizes([])
    with pytest.raises(ValueError, match="fabric_sizes: cannot read '1.5M'"):
        check_sizes(["1.5M"])


def _rank(output, failed=False, finished=1):
    """An async_status result of a rank's docker_container task (detach false), as Ansible returns it."""
    if not finished:
        return {"finished": 0, "ansible_job_id": "j1"}
    if failed:
        return {"finished": 1, "failed": True, "msg": output, "status": 1}
    return {"finished": 1, "changed": True, "container": {"Output": output, "State": {"ExitCode": 0}}}


MEASURED = MARK + json.dumps({"backend": "gloo", "ranks": 2, "results": [
    {"op": "all_gather", "size": 2**20, "seconds": 0.001},
    {"op": "all_reduce", "size": 2**20, "seconds": 0.002}]})


def _report(ranks, rdma=False, min_busbw=0.0, backend="gloo"):
    return collective_report({"ranks": ranks, "backend": backend, "interface": "eth0", "rdma": rdma,
                              "min_busbw": min_busbw})


def test_collective_report_of_a_passing_gloo_test():
    report = _report({"spark-1": _rank("warming up\n" + MEASURED + "\n"), "spark-2": _rank("")})
    assert report["problems"] == []
    gather, reduce = report["results"]
    assert gather["algbw"] == pytest.approx(2**20 / 0.001 / 1e9) and gather["busbw"] == pytest.approx(gather["algbw"] / 2)
    assert reduce["busbw"] == pytest.approx(2**20 / 0.002 / 1e9)   # 2(n-1)/n = 1 at two ranks
    assert report["lines"][0] == "collective test (gloo, 2 ranks)"
    assert report["lines"][-1] == "transport: sockets on eth0"
    assert sorted(report["files"]) == ["results.json", "spark-1.log", "spark-2.log", "summary.txt"]
    assert report["files"]["spark-1.log"].startswith("warming up")
    saved = json.loads(report["files"]["results.json"])
    assert saved["ranks"] == 2 and saved["transport"]["kind"] == "socket" and len(saved["results"]) == 2
    assert report["files"]["summary.txt"] == "\n".join(report["lines"]) + "\n"


def test_collective_report_under_a_pass_mark_above_it():
    report = _report({"spark-1": _rank(MEASURED), "spark-2": _rank("")}, min_busbw=1000)
    assert len(report["problems"]) == 1
    assert report["problems"][0].startswith("all_gather busbw at 1 MiB is 0.52 GB/s, under fabric_min_busbw 1000 GB/s")
    assert report["lines"][-1] == "problem: " + report["problems"][0]


def test_collective_report_of_ranks_that_failed_or_hung():
    report = _report({"spark-1": _rank("", finished=0),
                      "spark-2": _rank("Traceback\nRuntimeError: Connection refused\n", failed=True)})
    assert report["problems"][:2] == [
        "the rank on spark-1 did not end within fabric_timeout",
        "the rank on spark-2 failed: Traceback | RuntimeError: Connection refused"]
    assert report["problems"][2].startswith("the collective test gave no results")
    assert report["results"] == [] and report["lines"][0] == "collective test (gloo)"


def test_collective_report_reads_nccls_transport_from_every_rank():
    head = MEASURED.replace('"gloo"', '"nccl"') + "\n"
    report = _report({"spark-1": _rank(head), "spark-2": _rank(SOCKET_CHANNELS)}, rdma=True, backend="nccl")
    assert report["transport"]["kind"] == "socket"
    assert report["problems"][0].startswith("NCCL used TCP sockets on")
