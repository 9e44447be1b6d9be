"""data/attributes.py: ambiguous classification tasks whose consistent concepts are known exactly."""
import pytest
import torch

from data.attributes import CONCEPTS, NUM_ATTRIBUTES, AmbiguousAttributes, all_attribute_vectors, concept_labels


@pytest.mark.parametrize("num_support", [1, 3])
def test_exactly_three_concepts_fit_every_support_set(num_support):
    tasks = AmbiguousAttributes(seed=num_support).sample(500, num_support, 20)
    attributes = (tasks.x_support > 0).float()  # the noise (sd 0.2) never flips a +-1 feature
    every_concept = CONCEPTS.expand(500, -1, -1)
    fits = (concept_labels(attributes, every_concept) == tasks.y_support).all(1)  # [B, 28]
    assert (fits.sum(1) == 3).all(), "the support set should fit exactly three of the 28 concepts"
    listed = (concept_labels(attributes, tasks.consistent) == tasks.y_support).all(1)
    assert listed.all(), "the consistent concepts listed should be the ones that fit"
    assert (tasks.consistent[:, 0] == tasks.concept).all(), "the hidden concept comes first"


def test_query_labels_follow_the_hidden_concept_and_inputs_do_not_reveal_it():
    tasks = AmbiguousAttributes(seed=0).sample(2000, 1, 20)
    attributes = (tasks.x_query > 0).float()
    assert torch.equal(concept_labels(attributes, tasks.concept.unsqueeze(1)), tasks.y_query)
    # Each of the three consistent concepts (the hidden one first) labels as many query inputs positive:
    # the inputs carry no hint of which one is hidden.
    positive_rates = concept_labels(attributes, tasks.consistent).mean((0, 1))
    assert (positive_rates - positive_rates.mean()).abs().max() < 0.01, positive_rates
    assert abs(positive_rates.mean() - (0.5 * (1 / 3 + 2 / 3 * 0.5) + 0.5 * 0.25)) < 0.01, positive_rates
    disagree = concept_labels(attributes, tasks.consistent).std(-1) > 0
    assert disagree.float().mean() > 0.3, "the three concepts should disagree on many query examples"
    again = AmbiguousAttributes(seed=0).sample(2000, 1, 20)
    assert torch.equal(again.x_query, tasks.x_query), "the same seed gives the same tasks"


def test_probe_set_and_bad_arguments():
    probes = all_attribute_vectors()
    assert probes.shape == (2 ** NUM_ATTRIBUTES, NUM_ATTRIBUTES) and len(probes.unique(dim=0)) == 2 ** NUM_ATTRIBUTES
    with pytest.raises(ValueError, match="even"):
        AmbiguousAttributes().sample(2, 1, 9)
