import io
import json
import pickle
import re
import subprocess
import sys
import textwrap
from pathlib import Path

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


# --- A file's config and tensors are checked before anything the size of the network exists ------------


def generator_file(config: dict, tensors: dict | None = None) -> bytes:
    from safetensors.torch import save

    from colorizer.checkpoint import GENERATOR_FORMAT

    return save(tensors or {}, metadata={"format": GENERATOR_FORMAT, "config": json.dumps(config), "extra": "{}"})


@pytest.mark.slow
def test_it_refuses_a_tiny_file_asking_for_a_huge_unet_without_allocating_it():
    """The 332-byte file of the report: its config asks for a 2.7 GB network and it holds no tensors."""
    code = textwrap.dedent("""
        import json, resource, sys
        from colorizer.checkpoint import GENERATOR_FORMAT
        from colorizer.inference import Colorizer
        from safetensors.torch import save
        def file(config):
            return save({}, metadata={"format": GENERATOR_FORMAT, "extra": "{}", "config": json.dumps(config)})
        try:
            Colorizer.load(file({"base_width": 8, "num_downs": 5}), device="cpu")  # torch's own first-use memory
        except ValueError:
            pass
        data = file({"base_width": 128, "num_downs": 10})
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            Colorizer.load(data, device="cpu")
        except ValueError as exc:
            print(len(data), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before, exc)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            cwd=Path(__file__).resolve().parents[2])

    size, grown_kb, message = result.stdout.split(" ", 2)
    assert int(size) < 1000 and int(grown_kb) < 100 * 1024, result.stdout + result.stderr  # under 100 MB more (it asks for 1.2 GB)
    assert "parameters; the supported maximum is 100,000,000" in message


@pytest.mark.parametrize("config, message", [
    ({"base_width": 4096, "num_downs": 8}, "base_width=4096 is beyond the supported sizes (1 to 128)"),
    ({"base_width": 8, "num_downs": 40}, "num_downs=40 is beyond the supported sizes (5 to 10)"),
    ({"base_width": "64"}, "base_width='64' is beyond the supported sizes"),
    ({"arch": "efficientnet_lite0", "decoder_widths": [10**6, 1, 1, 1, 1]}, "decoder_widths must be whole numbers"),
    ({"in_channels": 3}, "maps L (1 channel) to a/b (2 channels)"),
    ({"nonsense": 1, "base_width": [1]}, "base_width=[1] is beyond"),
])
def test_it_refuses_configs_beyond_the_supported_sizes(config, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        load_generator(generator_file(config))


def test_it_refuses_a_tensor_whose_shape_differs_from_the_config():
    state = {name: tensor.clone() for name, tensor in tiny_generator().state_dict().items()}
    name = next(name for name, tensor in state.items() if tensor.dim() == 4)
    state[name] = torch.zeros(state[name].shape[0] * 2, *state[name].shape[1:])

    with pytest.raises(ValueError, match=re.escape(f"tensor {name} has shape")):
        load_generator(generator_file(TINY.to_dict(), state))


def test_it_refuses_missing_and_unexpected_tensors():
    state = dict(tiny_generator().state_dict())
    state.pop(next(iter(state)))
    state["extra.weight"] = torch.zeros(2)

    with pytest.raises(ValueError, match=r"1 missing .* 1 unexpected \(e.g. \['extra.weight'\]\)"):
        load_generator(generator_file(TINY.to_dict(), state))


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
