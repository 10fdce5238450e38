import io
import pickle

import pytest
import torch

from colorizer.checkpoint import (load_generator, load_state, read_generator_config, save_generator, save_state)
from colorizer.inference import Colorizer

from .conftest import TINY, tiny_generator


def test_a_generator_file_carries_its_config_and_extra(tiny_weights):
    state, config, extra = load_generator(tiny_weights)
    assert config == TINY.to_dict() and extra == {"name": "tiny"}
    assert read_generator_config(tiny_weights) == TINY.to_dict()
    assert all(t.dtype == torch.float16 for t in state.values() if t.is_floating_point())


def test_fp16_weights_reproduce_the_generator(tiny_weights):
    reference = tiny_generator().eval()
    loaded = Colorizer.load(tiny_weights, device="cpu")
    L = torch.rand(1, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        expected = reference(L) * 110
    assert (loaded.predict_ab(L) - expected).abs().max() < 0.5  # Lab units


def test_a_pickle_renamed_safetensors_is_refused_without_running_it(tmp_path):
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('unpickled!')",))

    evil = tmp_path / "evil.safetensors"
    evil.write_bytes(pickle.dumps({"weights": Boom()}))
    with pytest.raises(ValueError):
        Colorizer.load(evil)
    torch_save = tmp_path / "torch.safetensors"
    torch.save(tiny_generator().state_dict(), torch_save)
    with pytest.raises(ValueError):
        load_generator(torch_save)


def test_other_safetensors_and_corrupt_files_are_refused(tmp_path, tiny_weights):
    from safetensors.torch import save_file

    plain = tmp_path / "plain.safetensors"
    save_file({"x": torch.zeros(2)}, plain)
    with pytest.raises(ValueError, match="not a colorizer generator"):
        load_generator(plain)
    truncated = tiny_weights.read_bytes()[:-100]
    with pytest.raises(ValueError):
        load_generator(truncated)


def test_generators_load_from_bytes_and_file_objects(tiny_weights):
    payload = tiny_weights.read_bytes()
    assert Colorizer.load(payload, device="cpu").info == {"name": "tiny"}
    assert Colorizer.load(io.BytesIO(payload), device="cpu").config == TINY


def test_states_with_tensors_round_trip_through_safetensors_and_json(tmp_path):
    net = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.5, 0.999))
    net(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    save_state(tmp_path / "opt", {"optimizer": optimizer.state_dict(), "rng": torch.get_rng_state(), "n": 3})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["opt.json", "opt.safetensors"]
    restored = load_state(tmp_path / "opt")
    fresh = torch.optim.Adam(net.parameters())
    fresh.load_state_dict(restored["optimizer"])
    assert fresh.param_groups[0]["betas"] == [0.5, 0.999] and restored["n"] == 3
    assert torch.equal(fresh.state_dict()["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"])
    assert torch.equal(restored["rng"], torch.get_rng_state())


def test_the_state_of_an_optimizer_that_never_stepped_round_trips(tmp_path):
    # The discriminator's optimizer during the L1-only stage: no tensors at all.
    from colorizer.checkpoint import load_state, save_state

    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(2))])
    save_state(tmp_path / "optimizer_D", optimizer.state_dict())

    restored = torch.optim.Adam([torch.nn.Parameter(torch.zeros(2))], lr=0.5)
    restored.load_state_dict(load_state(tmp_path / "optimizer_D"))
    assert restored.state_dict()["state"] == {} and restored.param_groups[0]["lr"] == 0.001


def _checkpoint_parts():
    from colorizer.model import DiscriminatorConfig, build_discriminator

    torch.manual_seed(0)
    generator, discriminator = tiny_generator(), build_discriminator(DiscriminatorConfig(base_width=8))
    optimizer = torch.optim.Adam(discriminator.parameters())
    discriminator(torch.zeros(1, 1, 64, 64), torch.zeros(1, 2, 64, 64)).mean().backward()
    optimizer.step()  # an optimizer state with tensors in it
    return generator, discriminator, optimizer


def test_a_training_checkpoint_round_trips_and_a_half_finished_swap_is_recovered(tmp_path):
    from colorizer.checkpoint import load_checkpoint, recover_checkpoint, save_checkpoint
    from colorizer.model import DiscriminatorConfig, build_discriminator

    generator, discriminator, optimizer = _checkpoint_parts()
    folder, rng_state = tmp_path / "checkpoints", torch.get_rng_state()
    assert not recover_checkpoint(folder)
    save_checkpoint(folder, generator=generator, generator_config=TINY.to_dict(), ema_generator=generator,
                    discriminator=discriminator, discriminator_config={"base_width": 8},
                    optimizers={"D": optimizer}, rng={"cpu": rng_state}, state={"global_step": 3})
    # A crash between "move the old folder away" and "move the new one in" leaves only checkpoints.tmp.
    folder.rename(folder.with_name("checkpoints.tmp"))
    assert recover_checkpoint(folder) and not folder.with_name("checkpoints.tmp").exists()

    fresh_D = build_discriminator(DiscriminatorConfig(base_width=8))
    fresh_opt = torch.optim.Adam(fresh_D.parameters())
    state, rng = load_checkpoint(folder, generator=generator, ema_generator=None, discriminator=fresh_D,
                                 optimizers={"D": fresh_opt}, device="cpu")
    assert state == {"global_step": 3} and torch.equal(rng["cpu"], rng_state)
    assert all(torch.equal(a, b) for a, b in zip(fresh_D.state_dict().values(), discriminator.state_dict().values()))
    assert fresh_opt.state_dict()["state"][0]["step"] == 1
