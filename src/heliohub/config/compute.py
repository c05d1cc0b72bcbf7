"""The `profiles` and `dask` sections: what users can ask for."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from heliohub.config.base import FloatRange, IntRange, Limits, NonNegativeInt, PositiveInt, Strict

DEFAULT_IMAGE = "pangeo/pangeo-notebook:2025.06.02"
# The same release with CUDA and the GPU libraries (PyTorch, TensorFlow, CuPy).
GPU_IMAGE = "pangeo/ml-notebook:2025.06.02"

Slug = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
        description="lower-case letters, digits and '-', up to 63 characters",
    ),
]


class Profile(Strict):
    """A user server size offered at spawn time."""

    name: Slug
    display_name: str = Field(min_length=1)
    description: str = ""
    cpu: Limits
    memory_gib: Limits
    gpus: NonNegativeInt = 0
    image: str | None = Field(default=None, description="container image; defaults to `image`")
    node_pool: str | None = Field(
        default=None,
        description="the aws node pool this profile runs on; defaults to the user pool, or the "
        "GPU pool when gpus > 0",
    )
    default: bool = False


def _reference_profiles() -> list[Profile]:
    """The HelioCloud reference sizes."""
    return [
        Profile(
            name="small",
            display_name="Small",
            description="1-4 CPU, 1-4 GiB",
            cpu=Limits(guarantee=1, limit=4),
            memory_gib=Limits(guarantee=1, limit=4),
            default=True,
        ),
        Profile(
            name="large",
            display_name="Large",
            description="2-4 CPU, 2-8 GiB",
            cpu=Limits(guarantee=2, limit=4),
            memory_gib=Limits(guarantee=2, limit=8),
        ),
        Profile(
            name="extra-large",
            display_name="Extra Large",
            description="3-4 CPU, 13-16 GiB",
            cpu=Limits(guarantee=3, limit=4),
            memory_gib=Limits(guarantee=13, limit=16),
        ),
        Profile(
            name="gpu",
            display_name="GPU",
            description="1 NVIDIA T4, 13-16 GiB",
            cpu=Limits(guarantee=1, limit=4),
            memory_gib=Limits(guarantee=13, limit=16),
            gpus=1,
            image=GPU_IMAGE,
        ),
    ]


class Dask(Strict):
    """Dask Gateway clusters: the options users may choose and their bounds."""

    worker_cores: IntRange = IntRange(min=1, max=4, default=1)
    worker_memory_gib: FloatRange = FloatRange(min=1, max=8, default=2)
    max_workers_per_cluster: PositiveInt = 8
    max_clusters_per_user: PositiveInt | None = None
    cluster_idle_timeout_s: NonNegativeInt = Field(
        default=1800, description="0 keeps idle clusters forever"
    )
    image: str | None = Field(default=None, description="worker image; defaults to `image`")
    worker_node_pool: str = Field(default="burst", description="aws pool for Dask workers")
    gpu_worker_node_pool: str | None = Field(
        default="gpu", description="aws pool for workers that ask for a GPU; null: none"
    )
