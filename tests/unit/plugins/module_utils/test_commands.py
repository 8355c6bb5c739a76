from __future__ import annotations

import pytest
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.commands import (
    COMPILE_CACHES,
    OptionError,
    ray_closed_ports,
    ray_node_env,
    ray_start_args,
    vllm_serve_args,
)

HEAD = {"head": True, "node_ip": "192.168.100.10", "port": 6379}
WORKER = {"head": False, "node_ip": "192.168.100.11", "head_address": "192.168.100.10:6379"}
SERVE = {
    "model": "deepseek-ai/DeepSeek-R1-Distill-Llama-8B",
    "served_model_name": "r1-8b",
    "tensor_parallel_size": 2,
    "pipeline_parallel_size": 1,
    "max_model_len": 4096,
    "gpu_memory_utilization": 0.8,
    "host": "0.0.0.0",
    "port": 8000,
}
ENV = {"node_ip": "192.168.100.11", "head_ip": "192.168.100.10", "interface": "enp1s0f1np1"}


def rejected(builder, options, *fragments):
    with pytest.raises(ValueError) as err:
        builder(options)
    for fragment in fragments:
        assert fragment in str(err.value)
    return str(err.value)


# ray_start_args

def test_ray_head_minimal():
    assert ray_start_args(HEAD) == ["start", "--block", "--head", "--port=6379", "--node-ip-address=192.168.100.10"]


def test_ray_head_every_option():
    options = dict(HEAD, port="6380", dashboard_host="127.0.0.1", num_gpus=1, num_cpus=20,
                   extra_args=["--object-store-memory", 1000000000, "--include-dashboard=true"],
                   head_address="ignored:1")
    assert ray_start_args(options) == [
        "start", "--block", "--head", "--port=6380", "--node-ip-address=192.168.100.10",
        "--dashboard-host=127.0.0.1", "--num-gpus=1", "--num-cpus=20",
        "--object-store-memory", "1000000000", "--include-dashboard=true",
    ]


def test_ray_worker():
    options = dict(WORKER, num_gpus=0, num_cpus=None, dashboard_host="0.0.0.0", port=1, extra_args=["--disable-usage-stats"])
    assert ray_start_args(options) == ["start", "--block", "--address=192.168.100.10:6379",
                                       "--node-ip-address=192.168.100.11", "--num-gpus=0", "--disable-usage-stats"]


def test_ray_head_defaults_to_worker_and_ipv6():
    assert ray_start_args({"node_ip": "fd00::11", "head_address": "[fd00::10]:6379", "num_gpus": ""}) == [
        "start", "--block", "--address=[fd00::10]:6379", "--node-ip-address=fd00::11"]


@pytest.mark.parametrize("options, fragments", [
    (dict(HEAD, node_ip=None), ["cluster_node_ip must be set"]),
    (dict(HEAD, node_ip="spark-1"), ["cluster_node_ip must be an IPv4 or IPv6 address", "'spark-1'"]),
    (dict(HEAD, node_ip="192.168.100.300"), ["cluster_node_ip"]),
    (dict(HEAD, port=None), ["cluster_ray_port must be set"]),
    (dict(HEAD, port=0), ["cluster_ray_port must be between 1 and 65535, got 0"]),
    (dict(HEAD, port=65536), ["cluster_ray_port"]),
    (dict(HEAD, port="63a"), ["cluster_ray_port must be an integer"]),
    (dict(HEAD, port=True), ["cluster_ray_port must be an integer"]),
    (dict(HEAD, port=6379.5), ["cluster_ray_port must be an integer"]),
    (dict(WORKER, head_address=None), ["cluster_head_ip and cluster_ray_port must be set"]),
    (dict(WORKER, head_address="192.168.100.10"), ["cluster_head_ip and cluster_ray_port", "ip:port"]),
    (dict(WORKER, head_address="spark-1:6379"), ["cluster_head_ip and cluster_ray_port"]),
    (dict(WORKER, head_address="192.168.100.10:0"), ["cluster_head_ip and cluster_ray_port"]),
    (dict(HEAD, num_gpus=-1), ["cluster_ray_num_gpus must be at least 0"]),
    (dict(HEAD, num_cpus="two"), ["cluster_ray_num_cpus must be an integer"]),
    (dict(HEAD, dashboard_host="0.0.0.0 --x"), ["cluster_ray_dashboard_host"]),
    (dict(HEAD, head="yes"), ["head must be true or false"]),
    (dict(HEAD, nodeip="x"), ["ray_start_args got unknown option(s) nodeip"]),
    ("--head", ["ray_start_args expects a dict of options, got str"]),
    (dict(HEAD, extra_args="--num-gpus 1"), ["cluster_ray_start_extra_args must be a list"]),
    (dict(HEAD, extra_args=[["--x"]]), ["cluster_ray_start_extra_args must be a list of strings"]),
    (dict(HEAD, extra_args=[True]), ["cluster_ray_start_extra_args"]),
])
def test_ray_start_args_rejects(options, fragments):
    rejected(ray_start_args, options, *fragments)


@pytest.mark.parametrize("arg, flag, instead", [
    ("--head", "--head", "ray_head inventory group"),
    ("--port=6380", "--port", "cluster_ray_port"),
    ("--port", "--port", "cluster_ray_port"),
    ("--address=10.0.0.1:6379", "--address", "cluster_head_ip and cluster_ray_port"),
    ("--node-ip-address", "--node-ip-address", "cluster_node_ip"),
    ("--node_ip_address=10.0.0.1", "--node-ip-address", "cluster_node_ip"),
    ("--num-gpus=2", "--num-gpus", "cluster_ray_num_gpus"),
    ("--num-cpus", "--num-cpus", "cluster_ray_num_cpus"),
    ("--dashboard-host=0.0.0.0", "--dashboard-host", "ray_head_dashboard_host"),
    ("--block", "--block", "always passes it"),
    ("--node-ip", "--node-ip-address", "cluster_node_ip"),
])
def test_ray_extra_args_may_not_set_managed_flags(arg, flag, instead):
    options = dict(HEAD, extra_args=["--disable-usage-stats", arg, "1"])
    message = rejected(ray_start_args, options, "cluster_ray_start_extra_args must not set " + flag, instead)
    assert repr(arg) in message


def test_ray_extra_args_values_are_not_mistaken_for_flags():
    options = dict(HEAD, extra_args=["--temp-dir", "/tmp/ray-port", "--resources", '{"head": 1}', "--object-store-memory=1"])
    assert ray_start_args(options)[-5:] == options["extra_args"]


# ray_start_args: the pinned ports (cluster_ray_ports)

PORTS = {
    "dashboard_port": 8265, "ray_client_server_port": 10001, "node_manager_port": 6380, "object_manager_port": 6381,
    "runtime_env_agent_port": 6382, "dashboard_agent_grpc_port": 6383, "dashboard_agent_listen_port": 52365,
    "metrics_export_port": 6384, "min_worker_port": 10002, "max_worker_port": 10999,
}
NODE_PORT_FLAGS = [
    "--node-manager-port=6380", "--object-manager-port=6381", "--runtime-env-agent-port=6382",
    "--dashboard-agent-grpc-port=6383", "--dashboard-agent-listen-port=52365", "--metrics-export-port=6384",
    "--min-worker-port=10002", "--max-worker-port=10999",
]


def test_ray_head_pins_every_port():
    options = dict(HEAD, dashboard_host="127.0.0.1", num_gpus=1, extra_args=["--disable-usage-stats"], **PORTS)
    assert ray_start_args(options) == [
        "start", "--block", "--head", "--port=6379", "--node-ip-address=192.168.100.10", "--dashboard-host=127.0.0.1",
        "--num-gpus=1", "--dashboard-port=8265", "--ray-client-server-port=10001", *NODE_PORT_FLAGS,
        "--disable-usage-stats",
    ]


def test_ray_worker_pins_its_ports_and_ignores_the_heads():
    # a worker runs neither the dashboard nor the client server, and no GCS: 6379 is free for anything there
    options = dict(WORKER, **dict(PORTS, dashboard_port=0, ray_client_server_port="x", metrics_export_port=6379))
    assert ray_start_args(options) == [
        "start", "--block", "--address=192.168.100.10:6379", "--node-ip-address=192.168.100.11",
        *[flag.replace("6384", "6379") for flag in NODE_PORT_FLAGS],
    ]


def test_ray_ports_as_strings_and_unset_ones_left_out():
    options = dict(HEAD, node_manager_port="6380", object_manager_port=None, metrics_export_port="",
                   min_worker_port="10002", max_worker_port="10002")
    assert ray_start_args(options)[-3:] == ["--node-manager-port=6380", "--min-worker-port=10002",
                                            "--max-worker-port=10002"]


@pytest.mark.parametrize("options, fragments", [
    (dict(HEAD, node_manager_port=0), ["cluster_ray_ports.node_manager must be between 1 and 65535, got 0"]),
    (dict(HEAD, dashboard_port=70000), ["cluster_ray_ports.dashboard must be between 1 and 65535"]),
    (dict(HEAD, metrics_export_port="6384a"), ["cluster_ray_ports.metrics_export must be an integer"]),
    (dict(HEAD, object_manager_port=True), ["cluster_ray_ports.object_manager must be an integer"]),
    (dict(HEAD, min_worker_port=10002), ["cluster_ray_ports.min_worker and cluster_ray_ports.max_worker must be set together"]),
    (dict(WORKER, max_worker_port=10999), ["must be set together", "None and 10999"]),
    (dict(HEAD, min_worker_port=11000, max_worker_port=10002), ["cluster_ray_ports.min_worker (11000) must not be above",
                                                                "max_worker (10002)"]),
    (dict(HEAD, node_manager_port=6379), ["cluster_ray_ports.node_manager and cluster_ray_port are both 6379"]),
    (dict(HEAD, **dict(PORTS, dashboard_agent_grpc_port=6380)),
     ["cluster_ray_ports.dashboard_agent_grpc and cluster_ray_ports.node_manager are both 6380"]),
    (dict(HEAD, **dict(PORTS, ray_client_server_port=10500)),
     ["cluster_ray_ports.ray_client_server (10500) is inside the worker ports", "10002-10999"]),
    (dict(HEAD, port=10002, min_worker_port=10000, max_worker_port=10100), ["cluster_ray_port (10002) is inside"]),
    (dict(WORKER, **dict(PORTS, metrics_export_port=10002)), ["cluster_ray_ports.metrics_export (10002) is inside"]),
])
def test_ray_ports_rejected(options, fragments):
    rejected(ray_start_args, options, *fragments)


@pytest.mark.parametrize("arg, flag, key", [
    ("--dashboard-port=8266", "--dashboard-port", "dashboard"),
    ("--ray-client-server-port", "--ray-client-server-port", "ray_client_server"),
    ("--node-manager-port=0", "--node-manager-port", "node_manager"),
    ("--object_manager_port", "--object-manager-port", "object_manager"),
    ("--runtime-env-agent-port", "--runtime-env-agent-port", "runtime_env_agent"),
    ("--dashboard-agent-grpc-port", "--dashboard-agent-grpc-port", "dashboard_agent_grpc"),
    ("--dashboard-agent-listen-port=52366", "--dashboard-agent-listen-port", "dashboard_agent_listen"),
    ("--metrics-export-port", "--metrics-export-port", "metrics_export"),
    ("--min-worker-port=10002", "--min-worker-port", "min_worker"),
    ("--max-worker-port", "--max-worker-port", "max_worker"),
])
def test_ray_extra_args_may_not_set_a_pinned_port(arg, flag, key):
    message = rejected(ray_start_args, dict(HEAD, extra_args=[arg, "1"]),
                       f"cluster_ray_start_extra_args must not set {flag} (got {arg!r})")
    assert message.endswith("the role sets it from cluster_ray_ports." + key)


def test_ray_extra_args_may_not_replace_the_worker_ports_by_a_list():
    rejected(ray_start_args, dict(HEAD, extra_args=["--worker-port-list=10002,10003"]),
             "must not set --worker-port-list", "cluster_ray_ports.min_worker and cluster_ray_ports.max_worker")


# vllm_serve_args

def test_vllm_serve_every_option():
    extra = ["--enforce-eager", "--dtype", "float32", "--max-num-seqs", 8]
    options = dict(SERVE, extra_args=extra)
    assert vllm_serve_args(options) == [
        "serve", "deepseek-ai/DeepSeek-R1-Distill-Llama-8B", "--served-model-name", "r1-8b",
        "--host", "0.0.0.0", "--port", "8000", "--tensor-parallel-size", "2", "--pipeline-parallel-size", "1",
        "--distributed-executor-backend", "ray", "--max-model-len", "4096", "--gpu-memory-utilization", "0.8",
        "--enforce-eager", "--dtype", "float32", "--max-num-seqs", "8",
    ]


def test_vllm_serve_defaults_and_omitted_options():
    options = dict(SERVE, served_model_name=None, max_model_len="", gpu_memory_utilization=0.1 + 0.7)
    assert vllm_serve_args(options) == [
        "serve", "deepseek-ai/DeepSeek-R1-Distill-Llama-8B", "--host", "0.0.0.0", "--port", "8000",
        "--tensor-parallel-size", "2", "--pipeline-parallel-size", "1", "--distributed-executor-backend", "ray",
        "--gpu-memory-utilization", "0.8",
    ]


MP = dict(SERVE, backend="mp", nodes=2, node_rank=0, master_addr="192.168.100.10", master_port=29501)


def test_vllm_serve_mp_head_and_worker():
    head = vllm_serve_args(MP)
    assert head[head.index("--distributed-executor-backend"):head.index("--max-model-len")] == [
        "--distributed-executor-backend", "mp", "--nnodes", "2", "--node-rank", "0", "--master-addr", "192.168.100.10",
        "--master-port", "29501"]
    worker = vllm_serve_args(dict(MP, node_rank=1))
    assert worker[worker.index("--node-rank"):worker.index("--max-model-len")] == [
        "--node-rank", "1", "--master-addr", "192.168.100.10", "--master-port", "29501", "--headless"]
    # the Ray backend ignores the mp options: only the head runs vllm serve
    assert vllm_serve_args(dict(MP, backend="ray")) == vllm_serve_args(SERVE)


@pytest.mark.parametrize("value, rendered", [(0.8, "0.8"), ("0.95", "0.95"), (1, "1"), (0.85000000001, "0.85"),
                                             (0.05, "0.05")])
def test_vllm_serve_gpu_memory_rendering(value, rendered):
    args = vllm_serve_args(dict(SERVE, gpu_memory_utilization=value))
    assert args[args.index("--gpu-memory-utilization") + 1] == rendered


@pytest.mark.parametrize("options, fragments", [
    (dict(SERVE, model=None), ["vllm_serve_model must be set"]),
    (dict(SERVE, model=""), ["vllm_serve_model must be set"]),
    (dict(SERVE, model="my model"), ["vllm_serve_model must be a non-empty string without spaces"]),
    (dict(SERVE, model="--help"), ["vllm_serve_model must be a model id or path"]),
    (dict(SERVE, served_model_name=["a"]), ["vllm_serve_served_model_name"]),
    (dict(SERVE, tensor_parallel_size=0), ["vllm_serve_tensor_parallel_size must be at least 1, got 0"]),
    (dict(SERVE, tensor_parallel_size=None), ["vllm_serve_tensor_parallel_size must be set"]),
    (dict(SERVE, pipeline_parallel_size="x"), ["vllm_serve_pipeline_parallel_size must be an integer"]),
    (dict(SERVE, max_model_len=0), ["vllm_serve_max_model_len must be at least 1"]),
    (dict(SERVE, gpu_memory_utilization=0), ["vllm_serve_gpu_memory_utilization must be greater than 0"]),
    (dict(SERVE, gpu_memory_utilization=1.2), ["vllm_serve_gpu_memory_utilization", "got 1.2"]),
    (dict(SERVE, gpu_memory_utilization=80), ["vllm_serve_gpu_memory_utilization"]),
    (dict(SERVE, gpu_memory_utilization="high"), ["vllm_serve_gpu_memory_utilization"]),
    (dict(SERVE, gpu_memory_utilization=True), ["vllm_serve_gpu_memory_utilization"]),
    (dict(SERVE, gpu_memory_utilization=None), ["vllm_serve_gpu_memory_utilization must be set"]),
    (dict(SERVE, host=None), ["vllm_serve_host must be set"]),
    (dict(SERVE, port=70000), ["vllm_serve_port must be between 1 and 65535"]),
    (dict(SERVE, distributed_executor_backend="mp"), ["unknown option(s) distributed_executor_backend"]),
    (dict(SERVE, backend="external_launcher"), ["cluster_backend must be one of ray, mp, got 'external_launcher'"]),
    (dict(MP, master_port=0), ["cluster_mp_master_port must be between 1 and 65535, got 0"]),
    (dict(MP, master_port=None), ["cluster_mp_master_port must be set"]),
    (dict(MP, master_addr="head"), ["cluster_head_ip must be an IPv4 or IPv6 address"]),
    (dict(MP, node_rank=2), ["node_rank (the inventory's order) must be between 0 and 1, got 2"]),
    (dict(MP, nodes=None), ["the number of nodes (the inventory) must be set"]),
    (dict(SERVE, extra_args="--enforce-eager"), ["vllm_serve_extra_args must be a list"]),
    (dict(SERVE, extra_args=[None]), ["vllm_serve_extra_args must be a list of strings"]),
    (dict(SERVE, tp=2), ["vllm_serve_args got unknown option(s) tp"]),
])
def test_vllm_serve_args_rejects(options, fragments):
    rejected(vllm_serve_args, options, *fragments)


@pytest.mark.parametrize("arg, flag, instead", [
    ("--api-key=secret", "--api-key", "vllm_serve_api_key"),
    ("--api-key", "--api-key", "vllm_serve_api_key"),
    ("--model", "--model", "vllm_serve_model"),
    ("--served-model-name=x", "--served-model-name", "vllm_serve_served_model_name"),
    ("--host", "--host", "vllm_serve_host"),
    ("--port=9000", "--port", "vllm_serve_port"),
    ("--tensor-parallel-size=4", "--tensor-parallel-size", "vllm_serve_tensor_parallel_size"),
    ("--tensor_parallel_size", "--tensor-parallel-size", "vllm_serve_tensor_parallel_size"),
    ("--tensor-parallel", "--tensor-parallel-size", "vllm_serve_tensor_parallel_size"),
    ("-tp", "-tp", "vllm_serve_tensor_parallel_size"),
    ("-pp=2", "-pp", "vllm_serve_pipeline_parallel_size"),
    ("--pipeline-parallel-size", "--pipeline-parallel-size", "vllm_serve_pipeline_parallel_size"),
    ("--distributed-executor-backend=mp", "--distributed-executor-backend", "cluster_backend"),
    ("--nnodes=3", "--nnodes", "the inventory"),
    ("-n", "-n", "the inventory"),
    ("--node-rank", "--node-rank", "the inventory's order"),
    ("-r=1", "-r", "the inventory's order"),
    ("--master-addr=10.0.0.1", "--master-addr", "cluster_head_ip"),
    ("--master-port", "--master-port", "cluster_mp_master_port"),
    ("--headless", "--headless", "the inventory"),
    ("--max-model-len=8192", "--max-model-len", "vllm_serve_max_model_len"),
    ("--gpu-memory-utilization", "--gpu-memory-utilization", "vllm_serve_gpu_memory_utilization"),
])
def test_vllm_extra_args_may_not_set_managed_flags(arg, flag, instead):
    options = dict(SERVE, extra_args=["--enforce-eager", arg, "2"])
    message = rejected(vllm_serve_args, options, "vllm_serve_extra_args must not set " + flag, "the role sets it from " + instead)
    assert repr(arg) in message


# ray_node_env

def test_ray_node_env_minimal():
    assert ray_node_env(ENV) == {
        "VLLM_HOST_IP": "192.168.100.11",
        "MASTER_ADDR": "192.168.100.10",
        "NCCL_SOCKET_IFNAME": "enp1s0f1np1",
        "GLOO_SOCKET_IFNAME": "enp1s0f1np1",
        "TP_SOCKET_IFNAME": "enp1s0f1np1",
        "UCX_NET_DEVICES": "enp1s0f1np1",
        "OMPI_MCA_btl_tcp_if_include": "enp1s0f1np1",
        "RAY_memory_monitor_refresh_ms": "0",
    }


def test_ray_node_env_every_option():
    env = ray_node_env(dict(ENV, nccl_ib_hca="rocep1s0f1,roceP2p1s0f1",
                            extra={"NCCL_DEBUG": "INFO", "VLLM_CPU_KVCACHE_SPACE": 1, "FLAG": True,
                                   "RAY_memory_monitor_refresh_ms": 250}))
    assert env["NCCL_IB_HCA"] == "rocep1s0f1,roceP2p1s0f1"
    assert env["NCCL_DEBUG"] == "INFO"
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "1"
    assert env["FLAG"] == "True"
    assert env["RAY_memory_monitor_refresh_ms"] == "250"
    assert {type(value) for value in env.values()} == {str}


def test_ray_node_env_empty_optionals():
    assert ray_node_env(dict(ENV, nccl_ib_hca="", compile_cache_dir="", extra=None)) == ray_node_env(ENV)


def test_ray_node_env_puts_every_compile_cache_under_the_local_directory():
    env = ray_node_env(dict(ENV, compile_cache_dir="/var/cache/stacked-sparks/"))
    assert {name: env[name] for name in COMPILE_CACHES} == {
        "VLLM_CACHE_ROOT": "/var/cache/stacked-sparks/vllm",
        "TORCHINDUCTOR_CACHE_DIR": "/var/cache/stacked-sparks/torchinductor",
        "TRITON_CACHE_DIR": "/var/cache/stacked-sparks/triton",
        "FLASHINFER_WORKSPACE_BASE": "/var/cache/stacked-sparks/flashinfer",
        "CUDA_CACHE_PATH": "/var/cache/stacked-sparks/cuda",
    }
    # cluster_container_env still has the last word, as for every other variable.
    assert ray_node_env(dict(ENV, compile_cache_dir="/c", extra={"TRITON_CACHE_DIR": "/t"}))["TRITON_CACHE_DIR"] == "/t"


@pytest.mark.parametrize("options, fragments", [
    (dict(ENV, node_ip="enp1s0f1np1"), ["cluster_node_ip must be an IPv4 or IPv6 address"]),
    (dict(ENV, head_ip=None), ["cluster_head_ip must be set"]),
    (dict(ENV, interface="enp1s0f1np1 "), ["cluster_fabric_interface must be a network interface name"]),
    (dict(ENV, interface="eth/0"), ["cluster_fabric_interface"]),
    (dict(ENV, interface="a-very-long-iface"), ["cluster_fabric_interface", "1-15 characters"]),
    (dict(ENV, interface=""), ["cluster_fabric_interface"]),
    (dict(ENV, interface=None), ["cluster_fabric_interface"]),
    (dict(ENV, nccl_ib_hca="mlx5_0 mlx5_1"), ["cluster_nccl_ib_hca"]),
    (dict(ENV, compile_cache_dir="cache"), ["cluster_compile_cache_dir must be an absolute path"]),
    (dict(ENV, compile_cache_dir="/"), ["cluster_compile_cache_dir must be an absolute path other than /"]),
    (dict(ENV, extra={"VLLM_HOST_IP": "10.0.0.1"}), ["cluster_container_env must not set VLLM_HOST_IP",
                                                     "cluster_node_ip"]),
    (dict(ENV, extra={"MASTER_ADDR": "10.0.0.1"}), ["cluster_container_env must not set MASTER_ADDR",
                                                    "cluster_head_ip"]),
    (dict(ENV, extra={"HF_TOKEN": None}), ["cluster_container_env.HF_TOKEN must be a string or a number"]),
    (dict(ENV, extra={"X": ["a"]}), ["cluster_container_env.X"]),
    (dict(ENV, extra={"A=B": "1"}), ["cluster_container_env has an invalid variable name 'A=B'"]),
    (dict(ENV, extra={"": "1"}), ["cluster_container_env has an invalid variable name"]),
    (dict(ENV, extra=["NCCL_DEBUG=INFO"]), ["cluster_container_env must be a dict"]),
    (dict(ENV, iface="eth0"), ["ray_node_env got unknown option(s) iface"]),
])
def test_ray_node_env_rejects(options, fragments):
    rejected(ray_node_env, options, *fragments)


# ray_closed_ports

def test_ray_closed_ports_of_the_defaults():
    ports = {"dashboard": 8265, "ray_client_server": 10001, "node_manager": 6380, "object_manager": 6381,
             "runtime_env_agent": 6382, "dashboard_agent_grpc": 6383, "dashboard_agent_listen": 52365,
             "metrics_export": 6384, "min_worker": 10002, "max_worker": 10999}
    assert ray_closed_ports({"port": 6379, "ray_ports": ports}) == [
        "6379", "6380", "6381", "6382", "6383", "6384", "8265", "10001", "44217", "44227", "52365",
        "10002:10999", "23000:23999", "ephemeral"]


def test_ray_closed_ports_close_the_mp_rendezvous():
    assert ray_closed_ports({"port": 6379, "master_port": 29501}) == [
        "6379", "29501", "44217", "44227", "23000:23999", "ephemeral"]
    with pytest.raises(OptionError, match="cluster_mp_master_port must be between 1 and 65535"):
        ray_closed_ports({"port": 6379, "master_port": 70000})


def test_ray_closed_ports_follow_the_environment_and_name_bad_values():
    closed = ray_closed_ports({"port": 6379, "env": {"AUTOSCALER_METRIC_PORT": "9100"}})
    assert closed == ["6379", "9100", "44227", "23000:23999", "ephemeral"]
    with pytest.raises(OptionError, match="cluster_container_env.DASHBOARD_METRIC_PORT"):
        ray_closed_ports({"port": 6379, "env": {"DASHBOARD_METRIC_PORT": "metrics"}})
    with pytest.raises(OptionError, match="ray_closed_ports"):
        ray_closed_ports({"port": 6379, "ports": {}})


def test_mp_on_one_node_has_no_rendezvous():
    """A model on one node (beside another that holds cluster_mp_master_port) runs vLLM's executor alone."""
    args = vllm_serve_args({"model": "m", "tensor_parallel_size": 1, "pipeline_parallel_size": 1,
                            "gpu_memory_utilization": 0.3, "host": "10.0.0.2", "port": 8002, "backend": "mp",
                            "nodes": 1, "node_rank": 0, "master_addr": "10.0.0.1", "master_port": 29501})
    assert "--distributed-executor-backend" in args and args[args.index("--distributed-executor-backend") + 1] == "mp"
    assert not {"--nnodes", "--node-rank", "--master-addr", "--master-port", "--headless"} & set(args)
