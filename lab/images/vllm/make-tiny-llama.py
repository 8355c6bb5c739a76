"""Build a tiny random Llama + byte-level BPE tokenizer with a chat template (no hub needed).

Usage: python make-tiny-llama.py OUT_DIR
"""
import json
import sys
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
torch.manual_seed(0)

SPECIALS = ["<unk>", "<s>", "</s>", "<pad>"]
CORPUS = [
    "Hello, how are you today?",
    "The quick brown fox jumps over the lazy dog.",
    "Two DGX Spark nodes run one vLLM server over a Ray cluster.",
    "Tensor parallelism splits every layer across the nodes.",
    "A tiny model answers with random text, but valid OpenAI JSON.",
    "system user assistant: What is the capital of France? Paris.",
    "0123456789 + - * / = ( ) [ ] { } < > ! ? . , ; : ' \"",
]

tok = Tokenizer(models.BPE(unk_token="<unk>"))
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(
    vocab_size=448,
    special_tokens=SPECIALS,
    initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    show_progress=False,
)
tok.train_from_iterator(CORPUS * 20, trainer=trainer)
tok.post_processor = processors.TemplateProcessing(
    single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", tok.token_to_id("<s>"))]
)
vocab_size = tok.get_vocab_size()
assert vocab_size <= 448, vocab_size

CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}{{ eos_token }}\n"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
fast = PreTrainedTokenizerFast(
    tokenizer_object=tok,
    bos_token="<s>",
    eos_token="</s>",
    unk_token="<unk>",
    pad_token="<pad>",
    model_max_length=512,
)
fast.chat_template = CHAT_TEMPLATE
fast.save_pretrained(out)

config = LlamaConfig(
    vocab_size=448,
    hidden_size=256,
    intermediate_size=512,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=64,
    max_position_embeddings=512,
    bos_token_id=tok.token_to_id("<s>"),
    eos_token_id=tok.token_to_id("</s>"),
    pad_token_id=tok.token_to_id("<pad>"),
    torch_dtype="float32",
)
model = LlamaForCausalLM(config)
model.save_pretrained(out, safe_serialization=True)

# chat_template also as a file, for tools that read it from there
(out / "chat_template.jinja").write_text(CHAT_TEMPLATE)
size = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
print(json.dumps({"model": str(out), "vocab_size": vocab_size, "bytes": size}))
