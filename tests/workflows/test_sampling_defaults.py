"""One home per setting: a method owns its default sampling steps and sampler (method.sampling_steps,
method.sampler); `gensci sample`, `evaluate`, the report and periodic evaluation sample alike unless told
(eval.sampling_steps / eval.sampler override the last three only when set, --steps / --sampler win over all)."""

import pytest

import gensci.workflows.molecules as wfm
from gensci.config import load_config
from gensci.errors import ConfigError
from gensci.methods.base import Method, SamplingOptions
from gensci.metrics.molecule_protocols import MoleculeReference
from gensci.registry import METHODS, preset_names
from gensci.testing.runs import untrained_run
from gensci.workflows.base import EvalOptions, SampleOptions

# lensing-diffusion as the preset has it (T = 1000, DPM-Solver++ at 100 steps) on a tiny net and tiny maps
LENSING_TINY = ["data.map_size=16", "data.n_per_cosmology=8", "data.n_valid_per_cosmology=8",
                "data.n_test_per_cosmology=8", "method.width=4", "method.channel_mults=[1,2]",
                "method.attention_resolutions=[]", "eval.n_samples=4", "eval.periodic_n_samples=4", "eval.batch_size=4"]
DIGRESS_TINY = ["data.limit_train=32", "data.limit_eval=8", "method.n_layers=1", "method.dx=8", "method.de=4",
                "method.dy=4", "method.ff_x=8", "method.ff_e=4", "method.ff_y=4", "method.mlp_x=8", "method.mlp_e=4",
                "method.mlp_y=4", "method.timesteps=12", "method.sampling_steps=6", "eval.n_samples=3",
                "eval.periodic_n_samples=3", "eval.periodic_sampling_steps=4"]


def steps_and_sampler(described: dict) -> tuple:
    return described.get("sampling_steps"), described.get("sampler")


@pytest.fixture
def drawn(monkeypatch):
    """Every Method.sample call records what it samples with: (steps, sampler) from the method's own description."""
    seen: list[tuple] = []
    real = Method.sample

    def spy(self, n, condition=None, generator=None, options=None):
        seen.append(steps_and_sampler(self.describe_sampling(options or SamplingOptions())))
        return real(self, n, condition, generator, options)

    monkeypatch.setattr(Method, "sample", spy)
    return seen


def each_path(run, seen: list, tmp_path, eval_options=None) -> dict[str, set]:
    """The (steps, sampler) each of sample, evaluate, report and periodic evaluation drew with."""
    wf, out = run.workflow, {}
    for name, call in [("sample", lambda: wf.sample(run, SampleOptions(n=2, out=tmp_path / "s.npz"))),
                       ("evaluate", lambda: wf.evaluate(run, eval_options or EvalOptions())),
                       ("report", lambda: wf.report(run, {})),
                       ("periodic", lambda: wf.periodic_eval(run.method(), run.data, run.config))]:
        seen.clear()
        call()
        out[name] = set(seen)
    return out


@pytest.fixture(scope="module")
def lensing_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def lensing_run(path, cache, monkeypatch, *extra):
    monkeypatch.setenv("GENSCI_CACHE", str(cache))
    return untrained_run(load_config("lensing-diffusion", LENSING_TINY + list(extra)), path)


def test_a_preset_samples_alike_everywhere(tmp_path, lensing_cache, monkeypatch, drawn):
    run = lensing_run(tmp_path / "run", lensing_cache, monkeypatch)
    paths = each_path(run, drawn, tmp_path)
    assert paths == {k: {(100, "dpmpp2m")} for k in ("sample", "evaluate", "report", "periodic")}, paths


def test_eval_overrides_win_for_evaluation_only_and_the_command_line_wins_over_all(tmp_path, lensing_cache,
                                                                                  monkeypatch, drawn):
    run = lensing_run(tmp_path / "run", lensing_cache, monkeypatch, "eval.sampling_steps=7", "eval.sampler=ddim")
    paths = each_path(run, drawn, tmp_path)
    assert paths["sample"] == {(100, "dpmpp2m")}  # `gensci sample` is the method's own default
    assert paths["evaluate"] == paths["report"] == paths["periodic"] == {(7, "ddim")}, paths
    told = each_path(run, drawn, tmp_path, EvalOptions(steps=3, sampler="ancestral"))
    assert told["evaluate"] == {(3, "ancestral")}


def test_periodic_steps_cap_only_periodic_evaluation(monkeypatch, tmp_path, drawn):
    # qm9-digress: 500 steps (here 6) for sample, evaluate and the report; periodic evaluation at most 100 (here 4)
    monkeypatch.setattr(wfm, "_reference", lambda info, carried: MoleculeReference("test", graph_smiles=frozenset({"C"})))
    run = untrained_run(load_config("qm9-digress", DIGRESS_TINY), tmp_path / "run")
    paths = each_path(run, drawn, tmp_path / "s.sdf")
    assert paths["sample"] == paths["evaluate"] == paths["report"] == {(6, "ancestral")}, paths
    assert paths["periodic"] == {(4, "ancestral")}


def test_every_option_a_method_takes_has_its_default_in_the_method_config():
    for name in METHODS.names():
        cls = METHODS.get(name)
        fields = cls.Config.model_fields
        assert ("steps" in cls.sampling_options) == ("sampling_steps" in fields), name
        assert ("sampler" in cls.sampling_options) == ("sampler" in fields), name


@pytest.mark.parametrize("name", preset_names())
def test_presets_leave_sampling_to_the_method_section(name):
    config = load_config(name)
    assert config.eval.sampling_steps is None and config.eval.sampler is None, name


def test_an_eval_override_must_fit_the_method():
    with pytest.raises(ConfigError) as err:
        load_config("galaxy-vae", ["eval.sampling_steps=50"])
    assert str(err.value) == "preset galaxy-vae: eval.sampling_steps: method vae takes no sampling_steps (unset it)"
    with pytest.raises(ConfigError, match="eval.sampler: .*ancestral, ddim"):
        load_config("lensing-diffusion", ["eval.sampler=nonsense"])
    assert load_config("lensing-diffusion", ["eval.sampler=ddim"]).eval.sampler == "ddim"
