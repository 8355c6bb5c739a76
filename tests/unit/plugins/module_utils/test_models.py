"""The models the service serves (vllm_serve_models, or the single-model settings) and the gateway's config."""

from __future__ import annotations

import pathlib

import pytest
import yaml
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.commands import OptionError
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.models import (
    KEYS,
    check_models,
    gateway_config,
    needs_gateway,
    served_models,
    serving_plan,
)
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.settings import check_settings

ROLES = pathlib.Path(__file__).resolve().parents[4] / "roles"
SPECS = {path.parent.parent.name: yaml.safe_load(path.read_text())["argument_specs"]["main"]["options"]
         for path in ROLES.glob("*/meta/argument_specs.yml")}
# The settings of an inventory that sets only the cache, as check_settings gives them, with the role's defaults that
# a spec cannot hold (vllm_serve_max_model_len: 4096, null allowed): what the role's tasks see.
ROLE_DEFAULTS = yaml.safe_load((ROLES / "vllm_serve" / "defaults" / "main.yml").read_text())
DEFAULTS = {**check_settings({"cluster_hf_cache_dir": "/home/dan/.cache/huggingface"}, SPECS, 2)["settings"],
            "vllm_serve_max_model_len": ROLE_DEFAULTS["vllm_serve_max_model_len"]}
NODES = ["spark1", "spark2"]
FOUR = ["spark1", "spark2", "spark3", "spark4"]
RAY = {6379: "cluster_ray_port", 8265: "cluster_ray_ports.dashboard", 29500: "cluster_mp_master_port"}
CHAT = {"name": "chat", "model": "deepseek-ai/DeepSeek-R1-Distill-Llama-8B", "served_model_name": "r1-8b",
        "tensor_parallel_size": 2, "gpu_memory_utilization": 0.5, "port": 8001}
SMALL = {"name": "small", "model": "Qwen/Qwen2.5-0.5B-Instruct", "nodes": ["spark2"],
         "gpu_memory_utilization": 0.3, "port": 8002}


def settings(models=None, **values):
    return {**DEFAULTS, **values, "vllm_serve_models": [] if models is None else models}


def errors(models, nodes=None, gpus_per_node=1, reserved=None, **values):
    return check_models(settings(models, **values), NODES if nodes is None else nodes, gpus_per_node,
                        RAY if reserved is None else reserved)


def one_error(models, *fragments, **kwargs):
    found = errors(models, **kwargs)
    assert len(found) == 1, found
    for fragment in fragments:
        assert fragment in found[0], found[0]
    return found[0]


# served_models: the single-model settings

def test_no_models_is_the_one_model_of_the_single_settings():
    models = served_models(settings(), NODES, 1)
    assert models == [{
        "name": "default",
        "model": "deepseek-ai/DeepSeek-R1-Distill-Llama-8B",
        "served_model_name": "deepseek-ai/DeepSeek-R1-Distill-Llama-8B",
        "tensor_parallel_size": 2,
        "pipeline_parallel_size": 1,
        "nodes": ["spark1", "spark2"],
        "gpu_memory_utilization": 0.8,
        "max_model_len": 4096,
        "extra_args": [],
        "port": 8000,
        "env": {},
        "single": True,
    }]


def test_the_single_model_takes_every_single_setting():
    values = {"vllm_serve_model": "Qwen/Qwen2.5-7B-Instruct", "vllm_serve_served_model_name": "qwen",
              "vllm_serve_tensor_parallel_size": 1, "vllm_serve_pipeline_parallel_size": 4,
              "vllm_serve_gpu_memory_utilization": 0.7, "vllm_serve_max_model_len": None,
              "vllm_serve_extra_args": ["--enforce-eager"], "vllm_serve_port": 9000,
              "vllm_serve_env": {"HF_HUB_OFFLINE": "1"}}
    (model,) = served_models(settings(**values), FOUR, 1)
    assert model == {"name": "default", "model": "Qwen/Qwen2.5-7B-Instruct", "served_model_name": "qwen",
                     "tensor_parallel_size": 1, "pipeline_parallel_size": 4, "nodes": FOUR,
                     "gpu_memory_utilization": 0.7, "max_model_len": None, "extra_args": ["--enforce-eager"],
                     "port": 9000, "env": {"HF_HUB_OFFLINE": "1"}, "single": True}


def test_the_single_settings_name_every_key_the_fallback_reads():
    """The fallback reads the single-model settings by name: each is a real option of the role."""
    for name in ("vllm_serve_model", "vllm_serve_served_model_name", "vllm_serve_tensor_parallel_size",
                 "vllm_serve_pipeline_parallel_size", "vllm_serve_gpu_memory_utilization", "vllm_serve_max_model_len",
                 "vllm_serve_extra_args", "vllm_serve_port", "vllm_serve_env"):
        assert name in SPECS["vllm_serve"], name


@pytest.mark.parametrize("given", [None, [], ()])
def test_unset_or_empty_models_mean_the_single_settings(given):
    values = {key: value for key, value in settings().items() if key != "vllm_serve_models"}
    if given is not None:
        values["vllm_serve_models"] = given
    assert [model["single"] for model in served_models(values, NODES, 1)] == [True]


def test_the_single_model_is_a_copy():
    values = settings(vllm_serve_extra_args=["--enforce-eager"], vllm_serve_env={"A": "1"})
    (model,) = served_models(values, NODES, 1)
    model["extra_args"].append("--x")
    model["env"]["B"] = "2"
    model["nodes"].append("spark9")
    assert values["vllm_serve_extra_args"] == ["--enforce-eager"] and values["vllm_serve_env"] == {"A": "1"}


def test_the_single_settings_are_the_settings_checks_business():
    # tensor x pipeline parallel size against the GPUs is settings.py's check for the single model: not twice
    assert errors(None, vllm_serve_tensor_parallel_size=3, gpus_per_node=1) == []
    assert served_models(settings(vllm_serve_tensor_parallel_size=3), NODES, 1)[0]["tensor_parallel_size"] == 3


def test_the_single_model_needs_no_gateway():
    assert not needs_gateway(served_models(settings(), NODES, 1), 8000, NODES[0])


# served_models: the entries of vllm_serve_models

def test_an_entry_with_only_name_and_model_takes_the_defaults():
    (model,) = served_models(settings([{"name": "chat", "model": "org/model", "tensor_parallel_size": 2}]),
                             NODES, 1)
    assert model == {"name": "chat", "model": "org/model", "served_model_name": "org/model",
                     "tensor_parallel_size": 2, "pipeline_parallel_size": 1, "nodes": NODES,
                     "gpu_memory_utilization": 0.8, "max_model_len": 4096, "extra_args": [], "port": 8000,
                     "env": {}, "single": False}
    assert list(model) == [*KEYS, "single"]


def test_the_default_share_follows_the_single_setting():
    (model,) = served_models(settings([{"name": "a", "model": "org/a", "tensor_parallel_size": 2}],
                                      vllm_serve_gpu_memory_utilization=0.6), NODES, 1)
    assert model["gpu_memory_utilization"] == 0.6


def test_the_default_share_is_vllms_without_the_setting():
    values = settings([{"name": "a", "model": "org/a", "tensor_parallel_size": 2}])
    del values["vllm_serve_gpu_memory_utilization"]
    assert served_models(values, NODES, 1)[0]["gpu_memory_utilization"] == 0.9


def test_tensor_and_pipeline_sizes_default_to_one():
    (model,) = served_models(settings([{"name": "a", "model": "org/a", "nodes": ["spark2"]}]), NODES, 1)
    assert (model["tensor_parallel_size"], model["pipeline_parallel_size"], model["nodes"]) == (1, 1, ["spark2"])


def test_every_key_given():
    entry = {"name": "big", "model": "/root/.cache/huggingface/big", "served_model_name": "big-one",
             "tensor_parallel_size": 2, "pipeline_parallel_size": 2, "nodes": ["spark4", "spark2", "spark3", "spark1"],
             "gpu_memory_utilization": 1, "max_model_len": 32768, "extra_args": ["--max-num-seqs", 8],
             "port": 8101, "env": {"VLLM_LOGGING_LEVEL": "DEBUG", "N": 3}}
    (model,) = served_models(settings([entry]), FOUR, 1)
    assert model == {**entry, "nodes": FOUR, "extra_args": ["--max-num-seqs", "8"], "single": False}


def test_nodes_come_in_the_inventorys_order_head_first():
    models = served_models(settings([{**CHAT, "tensor_parallel_size": 1, "nodes": ["spark2", "spark1"],
                                      "pipeline_parallel_size": 2}]), NODES, 1)
    assert models[0]["nodes"] == NODES


def test_all_is_every_node():
    assert served_models(settings([{**CHAT, "nodes": "all", "tensor_parallel_size": 4}]), FOUR, 1)[0]["nodes"] == FOUR


def test_null_and_empty_mean_the_default():
    entry = {"name": "a", "model": "org/a", "served_model_name": "", "nodes": None, "tensor_parallel_size": 2,
             "pipeline_parallel_size": None, "port": None, "max_model_len": None, "extra_args": None, "env": None}
    (model,) = served_models(settings([entry]), NODES, 1)
    assert (model["served_model_name"], model["nodes"], model["pipeline_parallel_size"], model["port"],
            model["extra_args"], model["env"]) == ("org/a", NODES, 1, 8000, [], {})


def test_several_models_in_the_lists_order():
    third = {"name": "embed", "model": "BAAI/bge-base-en-v1.5", "nodes": ["spark2"], "port": 8003,
             "gpu_memory_utilization": 0.1}
    models = served_models(settings([SMALL, CHAT, third]), NODES, 1)
    assert [model["name"] for model in models] == ["small", "chat", "embed"]
    assert [model["served_model_name"] for model in models] == [
        "Qwen/Qwen2.5-0.5B-Instruct", "r1-8b", "BAAI/bge-base-en-v1.5"]
    assert [model["port"] for model in models] == [8002, 8001, 8003]
    assert served_models(settings([SMALL, CHAT, third]), NODES, 1) == models


def test_served_models_refuses_a_bad_list_with_the_messages():
    with pytest.raises(OptionError) as err:
        served_models(settings([CHAT, {**SMALL, "name": "chat", "tensor_parallel_size": 0}]), NODES, 1)
    assert "vllm_serve_models[1] (chat): tensor_parallel_size must be at least 1, got 0" in str(err.value)


def test_served_models_refuses_what_only_the_entries_together_get_wrong():
    with pytest.raises(OptionError, match=r"vllm_serve_models\[0\] \(chat\) and vllm_serve_models\[1\] \(small\) "
                                          r"both use port 8001"):
        served_models(settings([CHAT, {**SMALL, "port": 8001}]), NODES, 1)


def test_settings_must_be_a_dict():
    with pytest.raises(TypeError):
        served_models(None, NODES, 1)


# the gateway

def test_a_lone_entry_without_a_port_is_served_on_the_api_port_without_the_gateway():
    models = served_models(settings([{**CHAT, "port": None}]), NODES, 1)
    assert models[0]["port"] == 8000 and not needs_gateway(models, 8000, NODES[0])


def test_a_lone_entry_on_a_port_of_its_own_is_behind_the_gateway():
    models = served_models(settings([CHAT]), NODES, 1)
    assert needs_gateway(models, 8000, NODES[0])


def test_several_entries_are_behind_the_gateway():
    assert needs_gateway(served_models(settings([CHAT, SMALL]), NODES, 1), 8000, NODES[0])


# check_models: good lists

def test_two_models_sharing_the_nodes_are_good():
    assert errors([CHAT, SMALL]) == []


def test_models_on_nodes_of_their_own_are_good():
    first = {**CHAT, "nodes": ["spark1"], "tensor_parallel_size": 1, "gpu_memory_utilization": 0.9}
    second = {**SMALL, "nodes": ["spark3"], "gpu_memory_utilization": 0.9}
    assert errors([first, second], nodes=FOUR) == []


def test_shares_adding_up_to_exactly_one_are_good():
    models = [{"name": name, "model": f"org/{name}", "nodes": ["spark2"], "port": port,
               "gpu_memory_utilization": share} for name, port, share in (("a", 8001, 0.34), ("b", 8002, 0.56),
                                                                          ("c", 8003, 0.1))]
    assert sum(model["gpu_memory_utilization"] for model in models) > 1   # by a float's rounding
    assert errors(models) == []


def test_check_models_keeps_its_order():
    """Each entry's own problems in the list's order, then names, served names, ports, GPUs, spans and memory."""
    models = [{**CHAT, "tensor_parallel_size": 3}, {**SMALL, "port": 8001, "name": "chat"}, {"name": "x"}]
    assert errors(models) == errors(models)
    assert [message.split(":")[0] for message in errors(models)] == [
        "vllm_serve_models[2] (x)",
        "vllm_serve_models[2] (x)",
        "vllm_serve_models[0] (chat) and vllm_serve_models[1] (chat) are both named chat",
        "vllm_serve_models[0] (chat) and vllm_serve_models[1] (chat) both use port 8001",
        "vllm_serve_models[0] (chat)",
        "vllm_serve_models[2] (x)",
        "vllm_serve_models[0] (chat) and vllm_serve_models[2] (x) each run on several nodes",
        "vllm_serve_models[0] (chat) and vllm_serve_models[2] (x) share spark1, where their gpu_memory_utilization "
        "0.5 + 0.8 = 1.3 is more than each GPU's memory",
        "vllm_serve_models[0] (chat), vllm_serve_models[1] (chat) and vllm_serve_models[2] (x) share spark2, where "
        "their gpu_memory_utilization 0.5 + 0.3 + 0.8 = 1.6 is more than each GPU's memory",
    ]


def test_every_message_starts_with_the_setting():
    models = [{**CHAT, "typo": 1, "tensor_parallel_size": 3}, {**SMALL, "name": "Small", "port": 6379},
              {"model": "org/m", "nodes": ["nope"]}, "chat"]
    found = errors(models)
    assert len(found) >= 6
    assert all(message.startswith("vllm_serve_models") for message in found), found


# check_models: each entry

def test_an_entry_must_be_a_dict():
    one_error([CHAT, "small"], "vllm_serve_models[1] must be a dict (a YAML mapping) with at least name and model, "
                               "got the string 'small'")


def test_the_list_must_be_a_list():
    one_error({"chat": CHAT}, "vllm_serve_models must be a list of models")
    one_error("chat", "vllm_serve_models must be a list of models", "got the string 'chat'")


def test_an_unknown_key_names_the_closest():
    one_error([{**CHAT, "tensor_paralel_size": 2}],
              "vllm_serve_models[0] (chat): tensor_paralel_size is not a key of a model (did you mean "
              "tensor_parallel_size?)")


def test_an_unknown_key_without_a_close_one_lists_the_keys():
    message = one_error([{**CHAT, "zzz": 1}], "vllm_serve_models[0] (chat): zzz is not a key of a model")
    assert "an entry knows name, model, served_model_name" in message


def test_single_is_not_a_key_of_an_entry():
    one_error([{**CHAT, "single": True}], "single is not a key of a model")


@pytest.mark.parametrize("key", ["name", "model"])
@pytest.mark.parametrize("value", [None, ""])
def test_name_and_model_are_required(key, value):
    entry = {**CHAT, key: value}
    if value is None:
        del entry[key]
    label = "vllm_serve_models[0] (chat)" if key == "model" else "vllm_serve_models[0]"
    one_error([entry], f"{label}: {key} must be set")


@pytest.mark.parametrize("name", ["a", "chat", "qwen-7b", "r1", "a" * 40, "a-"])
def test_good_names(name):
    assert errors([{**CHAT, "name": name}]) == []


@pytest.mark.parametrize("name", ["Chat", "7b", "-chat", "chat_1", "chat.1", "chat 1", "chat\n", "a" * 41, 7,
                                  ["chat"]])
def test_bad_names(name):
    one_error([{**CHAT, "name": name}], "name must be lower-case letters, digits and dashes, starting with a letter, "
                                        f"at most 40 characters (it names the model's containers), got {name!r}")


@pytest.mark.parametrize("model", ["org/my model", "-x", 7])
def test_bad_models(model):
    one_error([{**CHAT, "model": model}], "vllm_serve_models[0] (chat): model must be a HuggingFace model id")


@pytest.mark.parametrize("served", ["my model", 7])
def test_bad_served_names(served):
    one_error([{**CHAT, "served_model_name": served}], "served_model_name must be a name without spaces")


@pytest.mark.parametrize("key", ["tensor_parallel_size", "pipeline_parallel_size"])
@pytest.mark.parametrize("value, said", [(0, "must be at least 1, got 0"), (-2, "must be at least 1, got -2"),
                                         ("2", "must be an integer, got the string '2'"),
                                         (True, "must be an integer, got True"),
                                         (2.0, "must be an integer, got 2.0")])
def test_bad_parallel_sizes(key, value, said):
    assert f"vllm_serve_models[0] (chat): {key} {said}" in errors([{**CHAT, key: value}])


@pytest.mark.parametrize("value, said", [(0, "must be at least 1, got 0"),
                                         ("4096", "must be an integer, got the string '4096'")])
def test_bad_max_model_len(value, said):
    one_error([{**CHAT, "max_model_len": value}], f"max_model_len {said}")


@pytest.mark.parametrize("share", [0.05, 0.5, 1, 1.0])
def test_good_shares(share):
    assert errors([{**CHAT, "gpu_memory_utilization": share}]) == []


@pytest.mark.parametrize("share", [0, -0.1, 1.01, 2, True])
def test_bad_shares(share):
    one_error([{**CHAT, "gpu_memory_utilization": share}],
              "vllm_serve_models[0] (chat): gpu_memory_utilization must be greater than 0 and at most 1")


def test_a_share_must_be_a_number():
    one_error([{**CHAT, "gpu_memory_utilization": "0.5"}],
              "gpu_memory_utilization must be a number, got the string '0.5'")


@pytest.mark.parametrize("port, said", [(0, "must be between 1 and 65535, got 0"),
                                        (70000, "must be between 1 and 65535, got 70000"),
                                        ("8001", "must be an integer, got the string '8001'")])
def test_bad_ports(port, said):
    one_error([{**CHAT, "port": port}], f"vllm_serve_models[0] (chat): port {said}")


def test_several_models_need_a_port_each():
    one_error([CHAT, {**SMALL, "port": None}], "vllm_serve_models[1] (small): port must be set: with several "
                                               "models, each listens on a port of its own")


def test_extra_args_must_be_a_list():
    one_error([{**CHAT, "extra_args": "--enforce-eager"}],
              "extra_args must be a list of strings (one argument per item), got the string '--enforce-eager'")


def test_extra_args_must_list_strings():
    one_error([{**CHAT, "extra_args": [{"a": 1}]}], "extra_args must be a list of strings, got item {'a': 1}")


@pytest.mark.parametrize("arg, flag, instead", [("--port=9000", "--port", "the model's port"),
                                                ("-tp", "-tp", "the model's tensor_parallel_size"),
                                                ("--max_model_len", "--max-model-len", "the model's max_model_len"),
                                                ("--served-model-name", "--served-model-name",
                                                 "the model's served_model_name"),
                                                ("--api-key", "--api-key", "vllm_serve_api_key")])
def test_extra_args_must_not_set_a_managed_flag(arg, flag, instead):
    message = one_error([{**CHAT, "extra_args": [arg, "x"]}],
                        f"vllm_serve_models[0] (chat): extra_args must not set {flag} (got {arg!r}): the role sets it "
                        f"from {instead}")
    assert "vllm_serve_extra_args" not in message


def test_env_must_be_a_dict():
    one_error([{**CHAT, "env": ["A=1"]}], "env must be a dict (a YAML mapping) of variable names to values")


@pytest.mark.parametrize("env, said", [({"1A": "x"}, "env has an invalid environment variable name '1A'"),
                                       ({"A\n": "x"}, "env has an invalid environment variable name 'A\\n'"),
                                       ({"A": None}, "env.A must be a string or a number, got None"),
                                       ({"A": [1]}, "env.A must be a string or a number, got [1]")])
def test_bad_env(env, said):
    one_error([{**CHAT, "env": env}], f"vllm_serve_models[0] (chat): {said}")


# check_models: nodes

def test_nodes_must_be_in_the_inventory():
    one_error([{**CHAT, "nodes": ["spark1", "spark9", "spark8"]}],
              "vllm_serve_models[0] (chat): nodes names spark9, spark8, not in the inventory (its nodes: spark1, "
              "spark2)")


def test_one_node_is_a_list_too():
    one_error([{**CHAT, "nodes": "spark1"}],
              "nodes must be all or a list of the inventory's host names, got the string 'spark1' (one host is a "
              "list too: [spark1])")


@pytest.mark.parametrize("nodes, said", [([], "nodes must name at least one host (or be all), got []"),
                                         (["spark1", "spark1"], "nodes names spark1 more than once"),
                                         ([1], "nodes must list host names (strings), got 1"),
                                         ({"spark1": 1}, "nodes must be all or a list")])
def test_bad_nodes(nodes, said):
    one_error([{**CHAT, "nodes": nodes}], said)


# check_models: the entries together

def test_names_are_used_once():
    one_error([CHAT, {**SMALL, "name": "chat"}],
              "vllm_serve_models[0] (chat) and vllm_serve_models[1] (chat) are both named chat: each model needs a "
              "name of its own")


def test_served_names_are_used_once():
    one_error([CHAT, {**SMALL, "served_model_name": "r1-8b"}],
              "vllm_serve_models[0] (chat) and vllm_serve_models[1] (small) are both served as r1-8b: the gateway "
              "routes by that name")


def test_a_served_name_is_the_model_where_unset():
    one_error([{**SMALL, "name": "a"}, {**SMALL, "name": "b", "port": 8003}],
              "vllm_serve_models[0] (a) and vllm_serve_models[1] (b) are both served as Qwen/Qwen2.5-0.5B-Instruct")


def test_ports_are_used_once():
    third = {**SMALL, "name": "third", "served_model_name": "third", "port": 8001, "gpu_memory_utilization": 0.1}
    found = errors([CHAT, SMALL, third])
    assert found == ["vllm_serve_models[0] (chat) and vllm_serve_models[2] (third) both use port 8001: give each "
                     "its own"]


@pytest.mark.parametrize("reserved", [{6379: "cluster_ray_port"}, {"6379": "cluster_ray_port"}])
def test_a_port_among_the_reserved(reserved):
    one_error([CHAT, {**SMALL, "port": 6379}],
              "vllm_serve_models[1] (small): port and cluster_ray_port both use port 6379: give each its own",
              reserved=reserved)


@pytest.mark.parametrize("key", [(10002, 19999), "10002-19999", "10002 - 19999"])
def test_a_port_in_a_reserved_range(key):
    one_error([CHAT, {**SMALL, "port": 10002}],
              "vllm_serve_models[1] (small): port 10002 is in cluster_ray_ports.min_worker and max_worker "
              "10002-19999: move one of them", reserved={key: "cluster_ray_ports.min_worker and max_worker"})


def test_a_bad_reserved_key_is_a_programming_error():
    with pytest.raises(TypeError, match="reserved_ports"):
        errors([CHAT], reserved={"ray": "cluster_ray_port"})


def test_no_model_behind_the_gateway_on_its_port():
    one_error([{**CHAT, "port": 8000}, SMALL],
              "vllm_serve_models[0] (chat): port and vllm_serve_port (where the gateway listens) both use port "
              "8000: give each its own")


def test_the_gateway_port_from_the_caller_keeps_its_name():
    one_error([{**CHAT, "port": 8000}, SMALL], "port and vllm_serve_port both use port 8000",
              reserved={8000: "vllm_serve_port"})


def test_a_lone_model_on_the_api_port_is_the_api():
    # no gateway then: its port is vllm_serve_port, which the settings checks judge against Ray's
    assert errors([{**CHAT, "port": None}], reserved={**RAY, 8000: "vllm_serve_port"}) == []
    assert errors([{**CHAT, "port": 8000}], reserved={**RAY, 8000: "vllm_serve_port"}) == []


def test_a_lone_model_behind_the_gateway():
    assert errors([CHAT], reserved={**RAY, 8000: "vllm_serve_port"}) == []
    one_error([{**CHAT, "port": 6379}], "port and cluster_ray_port both use port 6379")


def test_the_gateway_port_follows_the_setting():
    one_error([{**CHAT, "port": 9000}, SMALL], "port and vllm_serve_port (where the gateway listens) both use port "
                                               "9000", vllm_serve_port=9000)
    assert errors([CHAT, SMALL], vllm_serve_port=9000) == []


def test_parallel_sizes_must_fill_the_nodes_gpus():
    one_error([{**CHAT, "tensor_parallel_size": 1}],
              "vllm_serve_models[0] (chat): tensor_parallel_size x pipeline_parallel_size = 1 x 1 = 1 GPUs, but its "
              "nodes have 2 node(s) x 1 GPU(s) (cluster_gpus_per_node) = 2: vLLM could never place its workers (or "
              "would leave GPUs idle); make them equal")


def test_parallel_sizes_count_the_entrys_nodes_only():
    models = [{**CHAT, "nodes": ["spark2"], "tensor_parallel_size": 2}]
    assert errors(models, gpus_per_node=2) == []
    one_error(models, "2 x 1 = 2 GPUs, but its nodes have 1 node(s) x 4 GPU(s) (cluster_gpus_per_node) = 4",
              gpus_per_node=4)


def test_pipeline_stages_across_nodes():
    assert errors([{**CHAT, "tensor_parallel_size": 1, "pipeline_parallel_size": 4}], nodes=FOUR) == []


@pytest.mark.parametrize("gpus_per_node", [0, None, "1", True])
def test_no_parallel_size_check_without_gpus_per_node(gpus_per_node):
    assert errors([{**CHAT, "tensor_parallel_size": 3}], gpus_per_node=gpus_per_node) == []


def test_no_parallel_size_check_where_the_nodes_are_bad():
    one_error([{**CHAT, "nodes": ["spark9"], "tensor_parallel_size": 3}], "nodes names spark9")


def test_the_shares_of_one_node_add_up_to_one_at_most():
    one_error([{**CHAT, "gpu_memory_utilization": 0.8}, SMALL],
              "vllm_serve_models[0] (chat) and vllm_serve_models[1] (small) share spark2, where their "
              "gpu_memory_utilization 0.8 + 0.3 = 1.1 is more than each GPU's memory: lower them to add up to at "
              "most 1, or put the models on other nodes")


def test_the_shares_name_the_nodes_where_they_overflow():
    first = {**CHAT, "nodes": "all", "tensor_parallel_size": 4, "gpu_memory_utilization": 0.6}
    second = {**SMALL, "nodes": ["spark2"], "gpu_memory_utilization": 0.6}
    third = {"name": "third", "model": "org/third", "nodes": ["spark3"], "gpu_memory_utilization": 0.2, "port": 8003}
    assert errors([first, second, third], nodes=FOUR) == [
        "vllm_serve_models[0] (chat) and vllm_serve_models[1] (small) share spark2, where their "
        "gpu_memory_utilization 0.6 + 0.6 = 1.2 is more than each GPU's memory: lower them to add up to at most 1, "
        "or put the models on other nodes",
    ]


def test_three_models_on_one_node():
    models = [{"name": name, "model": f"org/{name}", "port": port, "gpu_memory_utilization": 0.4,
               "nodes": ["spark1"]} for name, port in (("a", 8001), ("b", 8002), ("c", 8003))]
    one_error(models, "vllm_serve_models[0] (a), vllm_serve_models[1] (b) and vllm_serve_models[2] (c) share spark1, "
                      "where their gpu_memory_utilization 0.4 + 0.4 + 0.4 = 1.2 is more")


def test_the_default_shares_overflow_a_shared_node():
    # vllm_serve_gpu_memory_utilization (0.8) for each: two models on one node must say their shares
    one_error([{"name": "a", "model": "org/a", "port": 8001, "nodes": ["spark1"]},
               {"name": "b", "model": "org/b", "port": 8002, "nodes": ["spark1"]}], "0.8 + 0.8 = 1.6")


# gateway_config

def plan(models=None, nodes=None, backend="ray", **values):
    nodes = NODES if nodes is None else nodes
    ips = {host: f"10.0.0.{index + 1}" for index, host in enumerate(nodes)}
    return serving_plan(settings(models, **values), nodes, ips, 1, backend, "sparks-vllm")


def test_the_plan_of_the_single_model_is_what_the_role_served_before():
    result = plan()
    assert result["gateway"] is False
    (model,) = result["models"]
    assert (model["container"], model["executor"], model["runs_on"], model["api_node"], model["host"], model["port"],
            model["url"]) == ("sparks-vllm", "ray", ["spark1"], "spark1", "0.0.0.0", 8000, "http://127.0.0.1:8000")


def test_the_single_model_under_mp_runs_on_every_node():
    (model,) = plan(backend="mp")["models"]
    assert (model["executor"], model["runs_on"]) == ("mp", NODES)


def test_the_plan_of_two_models_behind_the_gateway():
    result = plan([CHAT, SMALL])
    assert result["gateway"] is True
    chat, small = result["models"]
    assert (chat["container"], chat["executor"], chat["runs_on"], chat["host"], chat["url"]) == (
        "sparks-vllm-chat", "ray", ["spark1"], "127.0.0.1", "http://127.0.0.1:8001")
    # a model on a worker listens on the worker's fabric address, where the gateway on the head reaches it
    assert (small["container"], small["executor"], small["runs_on"], small["api_node"], small["host"],
            small["url"]) == ("sparks-vllm-small", "mp", ["spark2"], "spark2", "10.0.0.2", "http://10.0.0.2:8002")


def test_under_mp_a_model_on_several_nodes_runs_on_each():
    chat, _small = plan([CHAT, SMALL], backend="mp")["models"]
    assert (chat["executor"], chat["runs_on"]) == ("mp", NODES)


def test_a_lone_entry_on_a_worker_needs_the_gateway():
    result = plan([{"name": "a", "model": "org/a", "nodes": ["spark2"]}])
    assert result["gateway"] is True and result["models"][0]["url"] == "http://10.0.0.2:8000"


def test_the_plan_refuses_a_bad_list():
    with pytest.raises(OptionError, match="both use port"):
        plan([CHAT, {**SMALL, "port": 8001}])


def test_the_gateway_config_lists_each_model_under_its_served_name():
    models = plan([CHAT, SMALL])["models"]
    assert gateway_config(models)["model_list"] == [
        {"model_name": "r1-8b", "litellm_params": {"model": "hosted_vllm/r1-8b",
                                                   "api_base": "http://127.0.0.1:8001/v1"}},
        {"model_name": "Qwen/Qwen2.5-0.5B-Instruct",
         "litellm_params": {"model": "hosted_vllm/Qwen/Qwen2.5-0.5B-Instruct", "api_base": "http://10.0.0.2:8002/v1"}},
    ]


def test_the_gateway_holds_the_key_clients_must_send():
    config = gateway_config(plan([CHAT, SMALL])["models"], "sk-lab")
    assert config["general_settings"] == {"master_key": "sk-lab", "custom_auth": "gateway_hooks.user_api_key_auth"}
    assert config["litellm_settings"] == {"callbacks": "gateway_hooks.proxy_handler_instance"}
    assert all("api_key" not in item["litellm_params"] for item in config["model_list"])


@pytest.mark.parametrize("key", ["", None])
def test_no_key_no_master_key(key):
    """Everyone may call the API, as the single vLLM without a key; LiteLLM starts so only when told it is meant."""
    assert gateway_config(plan([CHAT])["models"], key)["general_settings"] == {
        "custom_auth": "gateway_hooks.user_api_key_auth", "dangerously_permit_weak_or_unset_master_key": True}


def test_the_gateway_config_is_plain_yaml():
    config = gateway_config(plan([CHAT, SMALL])["models"], "sk-lab")
    assert yaml.safe_load(yaml.safe_dump(config)) == config


@pytest.mark.parametrize("change", [{"url": None}, {"served_model_name": ""}])
def test_the_gateway_needs_a_served_name_and_a_url(change):
    (model,) = plan([CHAT])["models"]
    with pytest.raises(OptionError, match=r"gateway_config: vllm_serve_models\[0\] \(chat\) needs served_model_name "
                                          "and url"):
        gateway_config([{**model, **change}])


# at most one model spans the nodes

def test_two_models_on_several_nodes_are_refused():
    one_error([CHAT, {**SMALL, "nodes": "all", "tensor_parallel_size": 2}],
              "vllm_serve_models[0] (chat) and vllm_serve_models[1] (small) each run on several nodes: one model may "
              "span the nodes")


def test_a_model_on_some_of_several_nodes_is_refused():
    one_error([{**CHAT, "nodes": ["spark1", "spark3"]}], "vllm_serve_models[0] (chat): nodes names 2 of the 4 nodes",
              nodes=FOUR)


def test_the_plan_lists_every_container_by_host():
    assert plan([CHAT, SMALL], backend="mp")["containers"] == [
        {"key": "spark1", "value": "sparks-vllm-chat"}, {"key": "spark2", "value": "sparks-vllm-chat"},
        {"key": "spark2", "value": "sparks-vllm-small"}]


def test_without_the_nodes_addresses_a_workers_model_has_no_url():
    """The smoke, status and benchmark playbooks, which do not look at the nodes, need only the served names."""
    small = serving_plan(settings([CHAT, SMALL]), NODES, {}, 1, "ray", "sparks-vllm")["models"][1]
    assert (small["host"], small["url"]) == (None, None)


def test_the_plan_says_which_ports_each_node_listens_on():
    ours = ["sparks-vllm", "sparks-gateway", "sparks-vllm-chat", "sparks-vllm-small"]
    assert plan([CHAT, SMALL], vllm_serve_gateway_container="sparks-gateway")["ports"] == {
        "spark1": [{"port": 8000, "name": "vllm_serve_port", "holders": ours, "outside_ephemeral": True},
                   {"port": 8001, "name": "vllm_serve_models[0].port (chat)", "holders": ours,
                    "outside_ephemeral": True}],
        "spark2": [{"port": 8002, "name": "vllm_serve_models[1].port (small)", "holders": ours,
                    "outside_ephemeral": True}]}


def test_the_single_model_listens_on_the_api_port_alone():
    assert plan()["ports"] == {"spark1": [{"port": 8000, "name": "vllm_serve_port", "holders": [
        "sparks-vllm", "sparks-gateway"], "outside_ephemeral": True}]}
