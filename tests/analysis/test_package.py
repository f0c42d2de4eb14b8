"""engine.analysis as a package: the public names, and no dependency on the test-only reference packages."""
import ast
from pathlib import Path

import engine.analysis as analysis

PUBLIC = {
    "bin_counts", "population_rate", "isi_cv", "fano_factor", "synchrony", "golomb_chi",
    "words", "word_counts", "word_entropy", "entropy_reliability",
    "lz76", "lz76_normalized", "lz76_population", "lz76_per_neuron",
    "branching_ratio", "branching_factor_nalsm",
    "diffusion_spectral_entropy", "diffusion_spectral_mutual_information",
    "singular_values", "effective_rank", "top_components", "subspace_cosine", "weight_drift", "weight_histogram",
    "rdm", "kernel_alignment",
}


def test_public_names_are_exported_and_documented():
    assert PUBLIC <= set(analysis.__all__)
    for name in analysis.__all__:
        fn = getattr(analysis, name)
        assert callable(fn) and fn.__doc__ and len(fn.__doc__) > 80, name


def test_engine_code_does_not_import_reference_packages():
    # antropy and dse_dsmi are test references only
    for path in Path(analysis.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in ("antropy", "dse_dsmi"), f"{path.name} imports {name}"
