"""The cluster settings without a cluster: job tags, secrets kept out of configs, the profile."""

import pytest
import yaml
from hydra import compose, initialize_config_dir

from logreg.errors import ConfigError
from logreg.experiment.config import CONF_DIR, check_config, register_configs
from logreg.experiment.config import compose as compose_train
from logreg.provenance import batch_job
from paths import REPO


def test_batch_job_tags_name_the_slurm_job_and_nothing_outside_one():
    environ = {
        "SLURM_JOB_ID": "17",
        "SLURM_ARRAY_JOB_ID": "16",
        "SLURM_ARRAY_TASK_ID": "1",
        "SLURM_CLUSTER_NAME": "hpc",
        "SLURM_JOB_PARTITION": "",  # empty: not recorded
        "MLFLOW_TRACKING_PASSWORD": "secret",
    }
    assert batch_job(environ) == {
        "slurm.job_id": "17",
        "slurm.array_job_id": "16",
        "slurm.array_task_id": "1",
        "slurm.cluster": "hpc",
    }
    assert batch_job({"HOME": "/root"}) == {}


def test_a_tracking_uri_with_a_password_is_refused_without_repeating_it():
    cfg = compose_train(["tracking.uri=http://alice:hunter2@tracking:5000"])
    with pytest.raises(ConfigError, match="MLFLOW_TRACKING_PASSWORD") as caught:
        check_config(cfg)
    assert "hunter2" not in str(caught.value)
    check_config(compose_train(["tracking.uri=postgresql://mlflow@db:5432/mlflow"]))


def test_submitit_launcher_config_is_the_plugins_schema_with_our_resources():
    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            "train", overrides=["hydra/launcher=submitit_slurm"], return_hydra_config=True
        )
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.cpus_per_task, launcher.mem_gb, launcher.partition) == (1, 2, None)
    assert "array_parallelism" in launcher  # the plugin's own keys are all there


def test_slurm_profile_sets_squeue_status_partition_and_more_memory_for_faces_and_training():
    profile = yaml.safe_load((REPO / "workflow/profiles/slurm/config.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert profile["slurm-status-command"] == "squeue"
    defaults, per_rule = profile["default-resources"], profile["set-resources"]
    assert defaults["slurm_partition"]
    for rule in ("prepare_faces", "train"):
        assert per_rule[rule]["mem_mb"] > defaults["mem_mb"]


def test_readme_cluster_section_quotes_the_tested_commands_verbatim():
    import readme_commands as cmd

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    if "## Running on a cluster" not in readme:
        pytest.skip("README.md has no 'Running on a cluster' section yet")
    section = readme.split("## Running on a cluster", 1)[1].split("\n## ", 1)[0]
    for command in (cmd.CLUSTER_UP, cmd.SERVER, cmd.WORKFLOW, cmd.SWEEP, cmd.CLUSTER_DOWN):
        assert command in section, command
