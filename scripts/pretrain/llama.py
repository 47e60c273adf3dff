# A minimal LlamaForCausalLM in PyTorch whose state_dict keys and maths match transformers'
# modeling_llama, so the weights it saves load unchanged in transformers and in the engine.
import math
import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + self.eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.nh, self.nkv, self.hd = c['num_attention_heads'], c['num_key_value_heads'], c['head_dim']
        H = c['hidden_size']
        self.q_proj = nn.Linear(H, self.nh * self.hd, bias=False)
        self.k_proj = nn.Linear(H, self.nkv * self.hd, bias=False)
        self.v_proj = nn.Linear(H, self.nkv * self.hd, bias=False)
        self.o_proj = nn.Linear(self.nh * self.hd, H, bias=False)

    def forward(self, x, cos, sin, bias):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.nh // self.nkv
        if rep > 1:
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd) + bias
        y = att.softmax(-1) @ v
        return self.o_proj(y.transpose(1, 2).reshape(B, T, self.nh * self.hd))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        H, I = c['hidden_size'], c['intermediate_size']
        self.gate_proj = nn.Linear(H, I, bias=False)
        self.up_proj = nn.Linear(H, I, bias=False)
        self.down_proj = nn.Linear(I, H, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = Attention(c)
        self.mlp = MLP(c)
        self.input_layernorm = RMSNorm(c['hidden_size'], c['rms_norm_eps'])
        self.post_attention_layernorm = RMSNorm(c['hidden_size'], c['rms_norm_eps'])

    def forward(self, x, cos, sin, bias):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, bias)
        return x + self.mlp(self.post_attention_layernorm(x))


class Body(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c['vocab_size'], c['hidden_size'])
        self.layers = nn.ModuleList(Layer(c) for _ in range(c['num_hidden_layers']))
        self.norm = RMSNorm(c['hidden_size'], c['rms_norm_eps'])


class LlamaForCausalLM(nn.Module):
    """Tied head only: the checkpoint then holds no lm_head.weight, as transformers saves it."""

    def __init__(self, c):
        super().__init__()
        assert c['tie_word_embeddings']
        self.config = c
        self.model = Body(c)
        inv = 1.0 / (c['rope_theta'] ** (torch.arange(0, c['head_dim'], 2, dtype=torch.int64).float() / c['head_dim']))
        self.register_buffer('inv_freq', inv, persistent=False)
        self._cache = {}
        self.reset_parameters(torch.Generator().manual_seed(c.get('seed', 0)))

    def reset_parameters(self, gen):
        std = self.config['initializer_range']
        for name, p in self.named_parameters():
            if name.endswith('layernorm.weight') or name == 'model.norm.weight':
                continue
            with torch.no_grad():
                p.normal_(0.0, std, generator=gen)
                # GPT-2-style scaling of the residual projections keeps deep residual sums tame.
                if name.endswith('o_proj.weight') or name.endswith('down_proj.weight'):
                    p.mul_(1 / math.sqrt(2 * self.config['num_hidden_layers']))

    def embed(self, ids):
        return self.model.embed_tokens(ids)

    def _tables(self, S):
        # Rotary tables and the causal bias depend only on the length: computed once per length.
        hit = self._cache.get(S)
        if hit is None:
            pos = torch.arange(S, dtype=torch.float32)
            freqs = pos[:, None] * self.inv_freq[None, :]
            emb = torch.cat((freqs, freqs), dim=-1)
            hit = (emb.cos()[None, None], emb.sin()[None, None], torch.full((S, S), float('-inf')).triu(1)[None, None])
            self._cache[S] = hit
        return hit

    def forward_embeds(self, x, mask=None):
        """x: [B, S, H] input embeddings; mask: [B, S] with 1 for real tokens (keys), positions 0..S-1."""
        cos, sin, bias = self._tables(x.shape[1])
        if mask is not None:
            bias = bias + torch.where(mask[:, None, None, :] > 0, 0.0, float('-inf'))
            bias = torch.clamp(bias, min=torch.finfo(torch.float32).min)  # keeps fully masked rows finite
        for layer in self.model.layers:
            x = layer(x, cos, sin, bias)
        h = self.model.norm(x)
        return h @ self.model.embed_tokens.weight.t()

    def forward(self, ids, mask=None):
        return self.forward_embeds(self.embed(ids), mask)
