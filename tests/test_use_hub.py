"""The hub interface: ``MargeModel.from_pretrained`` on raw text (translate, embed, relevance)."""

import pytest
import torch
import torch.nn.functional as F

from fairseq_marge.data.language_tokens import lang_token_index
from fairseq_marge.evaluation.embeddings import mean_layer_states
from fairseq_marge.models.marge import MargeModel
from use_helpers import make_real_data_dir, save_checkpoint

TEXTS = ["The printer number 3 is connected to the network.", "Open the menu.",
         "Der Drucker ist mit dem Netzwerk verbunden."]


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    data = make_real_data_dir(tmp_path_factory.mktemp("hub"))
    save_checkpoint(data, data / "model.pt")
    return MargeModel.from_pretrained(str(data), checkpoint_file="model.pt").eval()


def test_translate_forces_the_target_language_token_first(hub, monkeypatch):
    first_inputs = []
    forward = hub.model.decoder.forward

    def recording_forward(prev_output_tokens, *args, **kwargs):
        if prev_output_tokens.size(1) == 1:  # the first decoding step
            first_inputs.append(prev_output_tokens[:, 0].unique().tolist())
        return forward(prev_output_tokens, *args, **kwargs)

    # beam search calls decoder.forward directly (no module hooks)
    monkeypatch.setattr(hub.model.decoder, "forward", recording_forward)
    outputs = hub.translate(TEXTS[:2], target_lang="de", beam=2, max_len_b=5)
    single = hub.translate(TEXTS[0], target_lang="fr", beam=2, max_len_b=5)
    assert len(outputs) == 2 and all(isinstance(o, str) for o in outputs) and isinstance(single, str)
    de, fr = (lang_token_index(hub.task.dictionary, lang) for lang in ("de", "fr"))
    assert first_inputs[0] == [de] and first_inputs[-1] == [fr]


def test_embed_is_the_layer_mean_and_does_not_depend_on_the_batch(hub):
    together = hub.embed(TEXTS, layer=2)
    alone = torch.stack([hub.embed(t, layer=2) for t in TEXTS])
    torch.testing.assert_close(together, alone, rtol=1e-4, atol=1e-5)
    src = torch.cat([torch.tensor([hub.task.dictionary.bos()]), hub.encode(TEXTS[1])])[None]
    torch.testing.assert_close(alone[1], mean_layer_states(hub.model.encoder, src, 2)[0])
    assert hub.embed(TEXTS).shape == together.shape  # default layer: the one just above g
    with pytest.raises(ValueError, match="embed-layer"):
        hub.embed(TEXTS, layer=9)


def test_relevance_is_the_cosine_of_g(hub):
    f = hub.relevance(TEXTS[:2], TEXTS)
    assert f.shape == (2, 3)
    assert hub.relevance(TEXTS[0], TEXTS).shape == (3,)
    src = torch.cat([torch.tensor([hub.task.dictionary.bos()]), hub.encode(TEXTS[2])])[None]
    src0 = torch.cat([torch.tensor([hub.task.dictionary.bos()]), hub.encode(TEXTS[0])])[None]
    with torch.no_grad():
        expected = F.cosine_similarity(hub.model.encoder.relevance_embedding(src0),
                                       hub.model.encoder.relevance_embedding(src))
    torch.testing.assert_close(f[0, 2], expected[0], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(hub.relevance(TEXTS[0], TEXTS[0]), torch.tensor(1.0), rtol=1e-4, atol=1e-4)


def test_translate_defaults_fit_the_input_length_and_block_repeated_8grams(hub, monkeypatch):
    """A model that would repeat one piece forever: by default its output stops at 1.2 x the
    source length + 10 tokens and holds no 8-gram twice; only when asked does it go on."""
    favourite = hub.task.dictionary.nspecial + 5
    output_layer = hub.model.decoder.output_layer

    def biased_output_layer(features):
        logits = output_layer(features)
        logits[..., favourite] += 100
        return logits

    monkeypatch.setattr(hub.model.decoder, "output_layer", biased_output_layer)
    outputs = []
    generate = hub.generate

    def recording_generate(*args, **kwargs):
        hypos = generate(*args, **kwargs)
        outputs.extend(h[0]["tokens"][:-1].tolist() for h in hypos)  # without the EOS
        return hypos

    monkeypatch.setattr(hub, "generate", recording_generate)
    text = "Open the menu right now."
    hub.translate(text, target_lang="de")
    eightgrams = [tuple(outputs[0][i : i + 8]) for i in range(len(outputs[0]) - 7)]
    source_tokens = len(hub.encode(text)) + 1  # + the BOS
    assert len(outputs[0]) <= int(1.2 * source_tokens + 10)
    assert len(eightgrams) > 0 and len(set(eightgrams)) == len(eightgrams)
    hub.translate(text, target_lang="de", no_repeat_ngram_size=0, max_len_a=0, max_len_b=60)
    assert outputs[1] == [favourite] * 60
