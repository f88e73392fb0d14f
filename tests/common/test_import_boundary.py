import subprocess
import sys

HEAVY = [
    "accelerate",
    "transformers",
    "torch_geometric",
    "segmentation_models_pytorch",
    "torchaudio",
]


def test_common_imports_no_task_libraries():
    code = (
        "import sys, labelnoise.common, labelnoise.common.losses, labelnoise.common.selection, "
        "labelnoise.common.detection, labelnoise.common.aggregation, labelnoise.common.metrics, "
        "labelnoise.common.noise, labelnoise.common.datasets\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
