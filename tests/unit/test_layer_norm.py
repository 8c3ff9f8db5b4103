"""inner.layer_norm (Lyle et al. 2024): the norm layers' names and shapes, the plain net kept bit
for bit when off, and an encoder.pt of one architecture refused by a config of the other."""

import pytest
import torch
from torch import nn

from leap_rl.agent import build_actor_critic, encoder_state, meta_parameters
from leap_rl.backends.a2c_task import read_init
from leap_rl.config import ConfigError, load_config
from leap_rl.io.artifacts import ArtifactError, save_init


class _PlainMinAtar(nn.Module):
    """MinAtarEncoder as it was before inner.layer_norm (copied): the reference for 'off'."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(10, 16, kernel_size=3, stride=1)
        self.fc = nn.Linear(16 * 8 * 8, 128)


class _PlainNature(nn.Module):
    """Nature2013Encoder as it was before inner.layer_norm (copied), for (3, 84, 84) frames."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, kernel_size=8, stride=4)
        self.conv2 = nn.Conv2d(16, 32, kernel_size=4, stride=2)
        self.fc = nn.Linear(32 * 9 * 9, 256)


@pytest.mark.parametrize("name, shape, plain", [("minatar", (10, 10, 10), _PlainMinAtar),
                                                 ("nature2013", (3, 84, 84), _PlainNature)])
def test_off_builds_todays_encoder_bit_for_bit(name, shape, plain):
    torch.manual_seed(7)
    model = build_actor_critic(name, shape, 4)
    torch.manual_seed(7)
    reference = plain().state_dict()
    state = model.encoder.state_dict()
    assert list(state) == list(reference)  # same names, same order, nothing added
    assert all(torch.equal(state[k], reference[k]) for k in reference)


def test_on_adds_a_gain_and_bias_per_unit_to_theta0_and_keeps_the_other_weights():
    torch.manual_seed(3)
    plain = encoder_state(build_actor_critic("minatar", (10, 10, 10), 4))
    torch.manual_seed(3)
    model = build_actor_critic("minatar", (10, 10, 10), 4, layer_norm=True)
    state = encoder_state(model)
    added = {k: tuple(v.shape) for k, v in state.items() if k not in plain}
    assert added == {"encoder.conv_norm.weight": (16,), "encoder.conv_norm.bias": (16,),
                     "encoder.fc_norm.weight": (128,), "encoder.fc_norm.bias": (128,)}
    assert all(torch.equal(state[k], plain[k]) for k in plain)  # no random number drawn
    assert set(meta_parameters(model, ["encoder."])) == set(state)  # meta-learned by default
    nature = encoder_state(build_actor_critic("nature2013", (3, 84, 84), 4, layer_norm=True))
    assert {k for k in nature if "norm" in k} == {
        f"encoder.{n}.{p}" for n in ("norm1", "norm2", "fc_norm") for p in ("weight", "bias")}
    mlp = encoder_state(build_actor_critic("mlp", (4,), 2, layer_norm=True))
    assert {k for k in mlp if "norm" in k} == {
        f"encoder.{n}.{p}" for n in ("norm1", "norm2") for p in ("weight", "bias")}


def test_on_normalizes_each_layers_pre_activations():
    torch.manual_seed(0)
    model = build_actor_critic("minatar", (10, 10, 10), 4, layer_norm=True)
    seen = {}
    model.encoder.conv_norm.register_forward_hook(lambda m, i, o: seen.update(conv=o))
    model.encoder.fc_norm.register_forward_hook(lambda m, i, o: seen.update(fc=o))
    obs = (torch.rand(5, 10, 10, 10) < 0.1).to(torch.uint8)
    logits, value = model(obs)
    assert logits.shape == (5, 4) and value.shape == (5,)
    for out in seen.values():  # per frame: zero mean, unit variance over the layer's units
        flat = out.flatten(1)
        assert torch.allclose(flat.mean(1), torch.zeros(5), atol=1e-5)
        assert torch.allclose(flat.var(1, unbiased=False), torch.ones(5), atol=1e-3)


@pytest.mark.parametrize("saved_with_norm", [True, False])
def test_an_init_of_the_other_architecture_is_refused_with_the_setting_named(
        tmp_path, saved_with_norm):
    saved = load_config(None, ["inner.encoder=mlp", f"inner.layer_norm={saved_with_norm}"])
    wanted = load_config(None, ["inner.encoder=mlp", f"inner.layer_norm={not saved_with_norm}"])
    assert saved.inner.architecture == ("mlp+layer_norm" if saved_with_norm else "mlp")
    model = build_actor_critic("mlp", (4,), 2, layer_norm=saved_with_norm)
    path = save_init(tmp_path / "encoder.pt", encoder_state(model),
                     architecture=saved.inner.architecture, observation_shape=(4,))
    assert set(read_init(path, saved)) == set(encoder_state(model))  # its own config reads it
    with pytest.raises(ArtifactError, match="inner.layer_norm"):
        read_init(path, wanted)


def test_the_rllib_backend_refuses_layer_norm_before_building_anything():
    with pytest.raises(ConfigError, match="layer_norm"):
        load_config(None, ["inner.backend=rllib", "inner.layer_norm=true"])


def test_remedies_draw_fresh_weights_for_the_norm_layers_too(tmp_path):
    # ReDo and shrink-and-perturb mix θ⁰ with a fresh init of the same parameters: with
    # inner.layer_norm on, θ⁰ holds the norm layers' gains and biases, so the fresh init must too.
    from leap_rl.distributed.care import fresh_init

    cfg = load_config("configs/minatar.yaml", ["inner.layer_norm=true"])
    shape = (10, 10, 10)
    init = encoder_state(build_actor_critic("minatar", shape, 4, layer_norm=True))
    fresh = fresh_init(cfg, shape, list(init), seed=3)
    assert set(fresh) == set(init) and any("norm" in k for k in fresh)
    assert all(fresh[k].shape == init[k].shape for k in init)
