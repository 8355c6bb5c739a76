"""The settings checks of the preflight role, against the roles' real argument specs."""

from __future__ import annotations

import pathlib

import pytest
import yaml
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.settings import (
    RULES,
    check_settings,
    model_location,
    plain,
)

ROLES = pathlib.Path(__file__).resolve().parents[4] / "roles"
SPECS = {path.parent.parent.name: yaml.safe_load(path.read_text())["argument_specs"]["main"]["options"]
         for path in ROLES.glob("*/meta/argument_specs.yml")}
# What an inventory must set (the Sparks' own values for the rest are the defaults).
NULLABLE = {"vllm_serve_max_model_len"}
GOOD = {"cluster_hf_cache_dir": "/home/dan/.cache/huggingface"}


def errors(nodes=2, **values):
    return check_settings({**GOOD, **values}, SPECS, nodes)["errors"]


def test_defaults_with_the_cache_dir_are_good():
    result = check_settings(GOOD, SPECS, 2)
    assert result["errors"] == []
    assert result["settings"]["vllm_serve_port"] == 8000
    assert result["settings"]["cluster_image"] == "nvcr.io/nvidia/vllm:25.11-py3"


class Tagged(str):
    """A str subclass with state, as Ansible's tagged strings are."""
    origin = "inventory/group_vars/all.yml"


class Lazy(dict):
    """A dict subclass, as Ansible's lazy containers are."""


def test_plain_gives_the_same_values_in_exact_types():
    given = Lazy(a=[Tagged("x"), True, 2, 1.5, None, (Tagged("y"),)], b=Lazy(c=Tagged("z")))
    result = plain(given)
    assert result == {"a": ["x", True, 2, 1.5, None, ["y"]], "b": {"c": "z"}}
    assert result.__class__ is dict and result["b"].__class__ is dict
    assert [v.__class__ for v in result["a"]] == [str, bool, int, float, type(None), list]
    assert next(iter(result)).__class__ is str and result["b"]["c"].__class__ is str


def test_settings_come_back_plain_from_subclassed_input():
    values = Lazy({Tagged("vllm_serve_port"): 9000, **GOOD})
    specs = {Tagged(role): Lazy(options) for role, options in SPECS.items()}
    result = check_settings(values, specs, 2)
    assert result["errors"] == []
    assert result["settings"]["cluster_hf_cache_dir"].__class__ is str and result["settings"]["vllm_serve_port"] == 9000


def test_the_specs_defaults_match_the_roles_defaults():
    """The preflight role reads the other roles' defaults from their specs: they must agree (null settings aside,
    whose spec has no default, as Ansible refuses null against one)."""
    for role, options in SPECS.items():
        defaults_file = ROLES / role / "defaults" / "main.yml"
        defaults = yaml.safe_load(defaults_file.read_text()) if defaults_file.exists() else {}
        for name, option in options.items():
            if name in (defaults or {}) and "{{" not in str(defaults[name]) and name not in NULLABLE:
                assert option.get("default") == defaults[name], f"{role}: {name}"


def test_every_rule_names_a_documented_setting():
    documented = {name for options in SPECS.values() for name in options}
    assert set(RULES) <= documented


def test_secrets_are_masked_in_the_settings():
    settings = check_settings(dict(GOOD, vllm_serve_api_key="s3cret", vllm_serve_hf_token=""), SPECS)["settings"]
    assert settings["vllm_serve_api_key"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert settings["vllm_serve_hf_token"] == ""
    assert "s3cret" not in repr(settings)


def test_missing_cache_dir_is_named():
    assert any("cluster_hf_cache_dir" in e for e in check_settings({}, SPECS, 2)["errors"])


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("vllm_serve_port", 70000, "vllm_serve_port must be a TCP port between 1 and 65535, got 70000"),
    ("cluster_ray_port", 0, "cluster_ray_port must be a TCP port"),
    ("vllm_serve_gpu_memory_utilization", 1.5, "vllm_serve_gpu_memory_utilization must be greater than 0"),
    ("vllm_serve_gpu_memory_utilization", 0, "vllm_serve_gpu_memory_utilization must be greater than 0"),
    ("vllm_serve_tensor_parallel_size", 0, "vllm_serve_tensor_parallel_size must be at least 1, got 0"),
    ("vllm_serve_max_model_len", -5, "vllm_serve_max_model_len must be at least 1"),
    ("cluster_fabric_interface", "enp1s0 f1", "cluster_fabric_interface must be a network interface name"),
    ("cluster_fabric_interface", "a-very-long-interface-name", "cluster_fabric_interface must be a network"),
    ("cluster_image", "nvcr.io/NVIDIA/vllm:25.11", "cluster_image must be an image reference"),
    ("cluster_image", "nvcr.io/nvidia/vllm:", "cluster_image must be an image reference"),
    ("cluster_image", "vllm latest", "cluster_image must be an image reference"),
    ("cluster_fabric_network", "192.168.100.0/33", "cluster_fabric_network must be a network in CIDR"),
    ("cluster_node_ip", "192.168.100.300", "cluster_node_ip must be an IPv4 or IPv6 address"),
    ("cluster_hf_cache_dir", "cache", "cluster_hf_cache_dir must be an absolute path"),
    ("cluster_compile_cache_dir", "compile", "cluster_compile_cache_dir must be an absolute path"),
    ("cluster_compile_cache_dir", "/home/dan/.cache/huggingface/compile",
     "cluster_compile_cache_dir /home/dan/.cache/huggingface/compile is inside cluster_hf_cache_dir"),
    ("cluster_compile_cache_dir", "/home/dan/.cache/huggingface/",
     "cluster_compile_cache_dir /home/dan/.cache/huggingface is inside cluster_hf_cache_dir"),
    ("cluster_shm_size", "10 GB", "cluster_shm_size must be a size"),
    ("cluster_nccl_ib_hca", "rocep1s0f1 roceP2p1s0f1", "cluster_nccl_ib_hca must be a comma-separated list"),
    ("cluster_head_container", "ray head", "cluster_head_container must be a container or volume name"),
    ("ray_head_dashboard_host", "0.0.0.0", "ray_head_dashboard_host must be a loopback or fabric address"),
    ("vllm_serve_host", "localhost:8000", "vllm_serve_host must be an IPv4 or IPv6 address"),
    ("vllm_serve_extra_args", ["--api-key", "x"], "vllm_serve_extra_args must not set --api-key"),
    ("vllm_serve_extra_args", ["--tensor-parallel=4"], "vllm_serve_extra_args must not set --tensor-parallel-size"),
    ("cluster_ray_start_extra_args", ["--num-gpus=2"], "cluster_ray_start_extra_args must not set --num-gpus"),
    ("cluster_container_env", {"VLLM_HOST_IP": "1.2.3.4"}, "cluster_container_env must not set VLLM_HOST_IP"),
    ("vllm_serve_env", {"BAD NAME": "1"}, "vllm_serve_env has an invalid environment variable name"),
    ("vllm_serve_model", "my model", "vllm_serve_model must be a HuggingFace model id"),
    ("vllm_serve_wait_timeout", 0, "vllm_serve_wait_timeout must be at least 1"),
])
def test_bad_values_are_named(name, value, expected):
    found = errors(**{name: value})
    assert any(expected in e for e in found), found


@pytest.mark.parametrize(("name", "value"), [
    ("vllm_serve_port", "abc"),
    ("vllm_serve_gpu_memory_utilization", "lots"),
    ("cluster_gpus", "perhaps"),
    ("cluster_install_docker_sdk", "perhaps"),
    ("cluster_rdma", "sometimes"),
    ("vllm_serve_extra_args", {"a": 1}),
])
def test_wrong_types_are_named_once(name, value):
    found = errors(**{name: value})
    assert len(found) == 1 and name in found[0], found


@pytest.mark.parametrize(("name", "value", "typed"), [
    ("vllm_serve_port", "8001", 8001),                     # -e vllm_serve_port=8001 gives a string
    ("vllm_serve_gpu_memory_utilization", "0.9", 0.9),
    ("cluster_image", "registry.example.com:5000/team/vllm:1.2@sha256:" + "a" * 64, None),
    ("cluster_image", "172.28.0.2:5000/stacked-sparks-lab/vllm:0.32.0", None),
    ("cluster_fabric_interface", "enp1s0f1np1", None),
    ("cluster_nccl_ib_hca", "rocep1s0f1,roceP2p1s0f1", None),
    ("ray_head_dashboard_host", "192.168.100.10", None),
    ("vllm_serve_max_model_len", None, None),
])
def test_good_values_pass(name, value, typed):
    result = check_settings({**GOOD, name: value}, SPECS, 2)
    assert result["errors"] == []
    if typed is not None:
        assert result["settings"][name] == typed


def test_parallel_sizes_must_match_the_cluster_gpus():
    found = errors(nodes=2, vllm_serve_tensor_parallel_size=4)
    assert found == ["vllm_serve_tensor_parallel_size x vllm_serve_pipeline_parallel_size = 4 x 1 = 4 GPUs, but the "
                     "cluster has 2 node(s) x 1 GPU(s) (cluster_gpus_per_node) = 2: vLLM could never place its "
                     "workers (or would leave GPUs idle); make them equal"]
    assert errors(nodes=2, vllm_serve_tensor_parallel_size=1, vllm_serve_pipeline_parallel_size=2) == []
    assert errors(nodes=3, vllm_serve_tensor_parallel_size=2, cluster_gpus_per_node=2,
                  vllm_serve_pipeline_parallel_size=3) == []
    assert errors(nodes=0, vllm_serve_tensor_parallel_size=4) == []


RAY_PORTS = {"dashboard": 8265, "ray_client_server": 10001, "node_manager": 6380, "object_manager": 6381,
             "runtime_env_agent": 6382, "dashboard_agent_grpc": 6383, "dashboard_agent_listen": 52365,
             "metrics_export": 6384, "min_worker": 10002, "max_worker": 10999}


def test_a_port_used_twice_is_named():
    assert errors(vllm_serve_port=6379) == ["vllm_serve_port and cluster_ray_port both use port 6379: give each its own"]
    assert errors(vllm_serve_port=8265) == [
        "vllm_serve_port and cluster_ray_ports.dashboard both use port 8265: give each its own"]
    assert errors(vllm_serve_port=10500) == [
        "vllm_serve_port 10500 is in Ray's worker port range 10002-10999 (cluster_ray_ports.min_worker and "
        "max_worker): move one of them"]
    found = errors(cluster_ray_ports=dict(RAY_PORTS, node_manager=6379))
    assert len(found) == 1 and "cluster_ray_ports.node_manager" in found[0] and "6379" in found[0], found
    assert errors(vllm_serve_port=29501) == [
        "vllm_serve_port and cluster_mp_master_port both use port 29501: give each its own"]
    assert errors(cluster_mp_master_port=6380) == [
        "cluster_mp_master_port and cluster_ray_ports.node_manager both use port 6380: give each its own"]
    assert errors(cluster_mp_master_port=10002) == [
        "cluster_mp_master_port 10002 is in Ray's worker port range 10002-10999 (cluster_ray_ports.min_worker and "
        "max_worker): move one of them"]


def test_the_image_archive_is_a_path_on_the_head_sent_from_there():
    assert errors(image_pull_source="head", image_pull_archive="/srv/images/vllm.tar") == []
    assert errors(image_pull_source="head", image_pull_archive="vllm.tar") == [
        "image_pull_archive must be an absolute path other than /, got 'vllm.tar'"]
    assert errors(image_pull_archive="/srv/images/vllm.tar") == [
        "image_pull_archive is set, but image_pull_source is not head: the archive is loaded on the head and sent "
        "to the workers from there; set image_pull_source: head"]
    assert "image_pull_source" in " ".join(errors(image_pull_source="peers"))
    assert errors(image_pull_send_timeout=0) == ["image_pull_send_timeout must be at least 1, got 0"]


def test_ray_added_to_the_image_is_one_pinned_version_under_ray():
    assert errors(cluster_image_add_ray="2.60.0") == []
    assert errors(cluster_image_add_ray="2.52.0rc1", image_pull_ray_ca_bundle="/etc/ssl/certs/ca.crt") == []
    for loose in ("2.60", ">=2.52", "latest", "2.60.0 "):
        assert errors(cluster_image_add_ray=loose) == [
            f"cluster_image_add_ray must be one pinned version like 2.60.0, got {loose!r}"]
    assert errors(cluster_image_add_ray="2.60.0", cluster_backend="mp") == [
        "cluster_image_add_ray is set, but cluster_backend is mp, which runs no Ray: unset cluster_image_add_ray (or "
        "set cluster_backend: ray)"]
    assert errors(cluster_image_add_ray="2.60.0", image_pull_ray_ca_bundle="ca.crt") == [
        "image_pull_ray_ca_bundle must be an absolute path other than /, got 'ca.crt'"]
    assert errors(image_pull_ray_ca_bundle="/etc/ssl/certs/ca.crt") == [
        "image_pull_ray_ca_bundle is set, but cluster_image_add_ray is empty: no image with Ray is built; set "
        "cluster_image_add_ray to the Ray version to add"]


def test_the_backend_and_its_port_are_checked():
    assert "cluster_backend" in " ".join(errors(cluster_backend="dask"))
    assert errors(cluster_mp_master_port=0) == ["cluster_mp_master_port must be a TCP port between 1 and 65535, got 0"]
    assert errors(cluster_backend="mp", cluster_mp_master_port=29600) == []


def test_the_api_port_is_not_one_the_firewall_keeps_to_the_fabric():
    assert errors(vllm_serve_port=44217) == [
        "vllm_serve_port 44217 is Ray's AUTOSCALER_METRIC_PORT (its default), a port the host firewall keeps to "
        "loopback and the fabric: pick another"]
    assert errors(vllm_serve_port=9100, cluster_container_env={"DASHBOARD_METRIC_PORT": "9100"}) == [
        "vllm_serve_port 9100 is Ray's DASHBOARD_METRIC_PORT (cluster_container_env), a port the host firewall keeps "
        "to loopback and the fabric: pick another"]
    assert errors(vllm_serve_port=23456) == [
        "vllm_serve_port 23456 is in 23000-23999, where Ray's client server starts its per-client servers, ports "
        "the host firewall keeps to loopback and the fabric: pick another"]
    assert errors(vllm_serve_port=44227, cluster_container_env={"DASHBOARD_METRIC_PORT": "9100"}) == []


def test_ray_ports_must_all_be_given():
    found = errors(cluster_ray_ports={"node_manager": 7000})
    assert found and all("cluster_ray_ports" in e or "dashboard" in e for e in found), found


def test_a_typo_is_named_with_the_closest_setting():
    found = errors(vllm_serve_tensor_paralel_size=2)
    assert found == ["vllm_serve_tensor_paralel_size is not a setting of stacked_sparks.vllm "
                     "(did you mean vllm_serve_tensor_parallel_size?)"]


def test_produced_facts_and_foreign_variables_are_not_typos():
    assert errors(cluster_node_ips={"a": "1.2.3.4"}, ray_head_status={}, ansible_user="spark", my_own=1) == []


@pytest.mark.parametrize(("model", "env", "expected"), [
    ("/root/.cache/huggingface/models/llama", {}, {"path": "/c/models/llama", "must_exist": True}),
    ("/root/.cache/huggingface/", {}, {"path": "/c", "must_exist": True}),
    ("deepseek-ai/DeepSeek-R1-Distill-Llama-8B", {},
     {"path": "/c/hub/models--deepseek-ai--DeepSeek-R1-Distill-Llama-8B", "must_exist": False}),
    ("org/name", {"HF_HUB_OFFLINE": "1"}, {"path": "/c/hub/models--org--name", "must_exist": True}),
    ("org/name", {"HF_HUB_OFFLINE": "0"}, {"path": "/c/hub/models--org--name", "must_exist": False}),
    ("/opt/models/tiny-llama", {"HF_HUB_OFFLINE": "1"}, {"path": None, "must_exist": False}),
    ("/root/.cache/huggingfaceX/m", {}, {"path": None, "must_exist": False}),
])
def test_model_location(model, env, expected):
    assert model_location(model, "/c", env) == expected


def test_non_dict_input_is_refused():
    with pytest.raises(TypeError, match="check_settings expects"):
        check_settings(["vllm_serve_port"], SPECS)


def test_cluster_hf_cache_nfs_is_a_bool():
    assert errors(cluster_hf_cache_nfs=False) == []
    found = errors(cluster_hf_cache_nfs="maybe")
    assert len(found) == 1 and "cluster_hf_cache_nfs" in found[0] and "bool" in found[0]


@pytest.mark.parametrize(("name", "value", "expected"), [
    # what Ansible's own type checks would turn into something else without a word
    ("vllm_serve_model", {"id": "org/model"}, "vllm_serve_model must be a string, got a dict {'id': 'org/model'}"),
    ("cluster_fabric_interface", ["enp1s0f1np1"], "cluster_fabric_interface must be a string, got a list"),
    ("vllm_serve_api_key", True, "vllm_serve_api_key must be a string, got a bool True"),
    ("vllm_serve_extra_args", "--enforce-eager,--max-num-seqs=4",
     "vllm_serve_extra_args must be a list of strings, got the string '--enforce-eager,--max-num-seqs=4' (on the "
     "command line, pass it as JSON: -e '{\"vllm_serve_extra_args\": [...]}')"),
    ("nfs_client_mount_options", "rw,hard", "nfs_client_mount_options must be a list of strings, got the string"),
    ("cluster_ray_start_extra_args", [["--a"]], "cluster_ray_start_extra_args must be a list of strings, got a list"),
    ("vllm_serve_env", "HF_HUB_OFFLINE=1", "vllm_serve_env must be a dict (a YAML mapping), got the string"),
    ("vllm_serve_tensor_parallel_size", True, "vllm_serve_tensor_parallel_size must be a whole number, got a bool"),
    ("vllm_serve_gpu_memory_utilization", [0.5], "vllm_serve_gpu_memory_utilization must be a number, got a list"),
])
def test_values_ansible_would_convert_silently_are_refused(name, value, expected):
    found = errors(**{name: value})
    assert found == [found[0]] and found[0].startswith(expected), found


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("nfs_client_mount_options", ["rw,hard"], "nfs_client_mount_options must list one option per item"),
    ("nfs_server_export_options", ["rw", ""], "nfs_server_export_options must list one option per item"),
    ("nfs_server_cache_owner", "dan smith", "nfs_server_cache_owner must be a user or group name"),
    ("ssh_trust_worker_user", "Dan", "ssh_trust_worker_user must be a user or group name"),
    ("image_pull_registry", "https://nvcr.io", "image_pull_registry must be a registry host"),
    ("preflight_image_gib", -1, "preflight_image_gib must be at least 0"),
    ("vllm_serve_served_model_name", "my model", "vllm_serve_served_model_name must not contain spaces"),
    ("vllm_serve_smoke_url", "127.0.0.1:8000", "vllm_serve_smoke_url must be an http:// or https:// URL"),
])
def test_bad_values_of_every_role_are_named(name, value, expected):
    found = errors(**{name: value})
    assert any(expected in e for e in found), found


@pytest.mark.parametrize(("name", "value"), [
    ("nfs_server_cache_owner", "1000"), ("ssh_trust_user", "spark"), ("image_pull_registry", "172.28.0.2:5000"),
    ("vllm_serve_served_model_name", "tiny"), ("vllm_serve_smoke_url", "https://sparks.example.com/api"),
    ("image_pull_registry_password", 123456), ("vllm_serve_port", 8001.0),
])
def test_good_values_of_every_role_pass(name, value):
    assert errors(**{name: value}) == []


def test_every_setting_has_a_value_check_or_a_closed_type():
    """A setting without a rule is one the preflight lets through as long as its type fits: only choices and
    booleans, and secrets (any text), may go without one; cluster_ray_ports is checked with the other ports,
        vllm_serve_models by models.check_models."""
    unchecked = [name for options in SPECS.values() for name, option in options.items()
                 if name not in RULES and name not in ("cluster_ray_ports", "vllm_serve_models") and not option.get("choices") and option.get("type") != "bool"
                 and not option.get("no_log")]
    assert unchecked == []


def test_produced_lists_every_prefixed_variable_the_roles_set():
    """PRODUCED is what the typo check lets through: exactly the prefixed facts and results the roles set."""
    from ansible_collections.stacked_sparks.vllm.plugins.module_utils.settings import PRODUCED
    prefixes = tuple(f"{role}_" for role in SPECS)
    found = set()
    for path in ROLES.glob("*/tasks/*.yml"):
        for task in yaml.safe_load(path.read_text()) or []:
            for inner in [task, *task.get("block", [])]:
                found.add(inner.get("register", ""))
                found.update(inner.get("ansible.builtin.set_fact", {}) or {})
    assert {name for name in found if name.startswith(prefixes)} == PRODUCED


def test_the_fabric_checks_settings():
    assert errors(fabric_sizes=["64K", "1M", "4G"], fabric_min_busbw=0, cluster_results_dir="/srv/results") == []
    assert errors(fabric_sizes=["16G"]) == [
        "fabric_sizes: '16G' is above 4G, the largest size the collection runs: a test with a 16 GiB buffer froze a "
        "Spark (unified memory)"]
    assert errors(fabric_sizes=[]) == ["fabric_sizes must list at least one message size, e.g. [1M, 16M, 256M, 1G]"]
    assert "fabric_sizes: cannot read 'lots'" in errors(fabric_sizes=["lots"])[0]
    assert errors(fabric_min_busbw=-1) == ["fabric_min_busbw must be at least 0, got -1.0"]
    assert errors(fabric_iterations=0) == ["fabric_iterations must be at least 1, got 0"]
    assert errors(fabric_port=8000) == ["fabric_port and vllm_serve_port both use port 8000: give each its own"]
    assert errors(fabric_ops=["broadcast"]) == [
        "value of fabric_ops must be one or more of: all_gather, all_reduce. Got no match for: broadcast (role fabric)"]
    assert errors(cluster_results_dir="results") == [
        "cluster_results_dir must be an absolute path on the controller, or one under ~, got 'results'"]
    assert errors(cluster_results_dir="~/stacked-sparks-results") == []


def test_the_benchmarks_settings():
    assert errors(vllm_serve_bench_request_rate="2.5", vllm_serve_bench_max_concurrency=0) == []
    assert errors(vllm_serve_bench_request_rate="fast") == [
        "vllm_serve_bench_request_rate must be requests per second above 0, or inf, got 'fast'"]
    assert errors(vllm_serve_bench_num_prompts=0) == ["vllm_serve_bench_num_prompts must be at least 1, got 0"]
    assert errors(vllm_serve_bench_dataset="sharegpt") == [
        "vllm_serve_bench_dataset is sharegpt, but vllm_serve_bench_dataset_path is empty: give the ShareGPT JSON file "
        "on the head"]
    assert errors(vllm_serve_bench_dataset="sharegpt", vllm_serve_bench_dataset_path="sharegpt.json") == [
        "vllm_serve_bench_dataset_path must be an absolute path other than /, got 'sharegpt.json'"]


def test_the_fabric_mtu_is_0_or_an_mtu():
    assert errors(cluster_fabric_mtu=9000) == [] and errors(cluster_fabric_mtu=0) == []
    assert errors(cluster_fabric_mtu=1280) == [] and errors(cluster_fabric_mtu=9216) == []
    for bad in (576, 9217, -1):
        assert errors(cluster_fabric_mtu=bad) == [
            f"cluster_fabric_mtu must be 0 (leave the MTU as it is) or an MTU from 1280 to 9216, got {bad}"]
    assert "'cluster_fabric_mtu' is of type str and we were unable to convert to int" in errors(cluster_fabric_mtu="jumbo")[0]


# vllm_serve_models: check_settings runs models.check_models with the inventory's nodes and the ports it reserves

TWO_MODELS = [{"name": "big", "model": "org/big", "tensor_parallel_size": 2, "port": 8001, "gpu_memory_utilization": 0.6},
              {"name": "small", "model": "org/small", "nodes": ["spark-2"], "port": 8002, "gpu_memory_utilization": 0.3}]


def models_errors(models, **values):
    return check_settings({**GOOD, **values, "vllm_serve_models": models}, SPECS, ["spark-1", "spark-2"])["errors"]


def test_two_models_are_good_settings():
    assert models_errors(TWO_MODELS) == []


def test_with_models_the_single_models_parallel_sizes_step_aside():
    assert models_errors(TWO_MODELS, vllm_serve_tensor_parallel_size=7) == []
    assert check_settings({**GOOD, "vllm_serve_tensor_parallel_size": 7}, SPECS, ["spark-1", "spark-2"])["errors"]


@pytest.mark.parametrize("port, name", [(6379, "cluster_ray_port"), (29501, "cluster_mp_master_port"),
                                        (29502, "fabric_port"),
                                        (44217, "Ray's AUTOSCALER_METRIC_PORT"), (8000, "vllm_serve_port")])
def test_a_models_port_may_not_be_anothers(port, name):
    (message,) = models_errors([TWO_MODELS[0], {**TWO_MODELS[1], "nodes": ["spark-1"], "port": port}])
    assert message.startswith("vllm_serve_models[1] (small): port and ") and name in message, message


def test_a_models_port_in_rays_worker_range_is_refused():
    (message,) = models_errors([TWO_MODELS[0], {**TWO_MODELS[1], "port": 10005}])
    assert "port 10005 is in Ray's worker ports" in message


def test_the_nodes_count_alone_skips_the_list():
    assert check_settings({**GOOD, "vllm_serve_models": [{"name": "Bad"}]}, SPECS, 2)["errors"] == []


def test_a_bad_list_names_the_entry():
    assert models_errors([{**TWO_MODELS[0], "name": "Big"}]) == [
        "vllm_serve_models[0] (Big): name must be lower-case letters, digits and dashes, starting with a letter, at "
        "most 40 characters (it names the model's containers), got 'Big'"]
