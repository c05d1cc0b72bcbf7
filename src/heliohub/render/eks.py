"""What the AWS stacks create and the Kubernetes layer must agree with: names, the labels and
taints a node pool's nodes carry, and the pinned cluster-autoscaler.

Plain data, no troposphere: the CloudFormation templates (render/cloudformation) and the Helm
values (render/helm) both import it, and provider kubernetes works without the `aws` extra.
"""

from __future__ import annotations

from heliohub.config.aws import GPU_TAINT, NodePool
from heliohub.eks_releases import AUTOSCALER_IMAGE_TAGS
from heliohub.errors import UserError

# Every resource heliohub creates on AWS carries this tag with the deployment name; `down`
# lists what still carries it afterwards.
DEPLOYMENT_TAG = "heliohub:deployment"

# Label put on every node of a pool, so profiles and Dask workers can select a pool by the
# name in the config (EKS generates the node group names themselves).
NODE_POOL_LABEL = "heliohub/node-pool"

# The Kubernetes service account of user servers and Dask workers: its pods get the S3
# role through EKS Pod Identity.
USER_SERVICE_ACCOUNT = "heliohub-user"

GPU_LABEL = (GPU_TAINT.key, GPU_TAINT.value)
# The cluster autoscaler's AWS provider recognises GPU nodes by this label (its GPULabel):
# without it, pods pending for a GPU make it add nodes again while the first ones boot.
ACCELERATOR_LABEL = "k8s.amazonaws.com/accelerator"
# The GPU of each family, in the names the autoscaler and GKE use.
ACCELERATORS = {
    "g4dn": "nvidia-tesla-t4",
    "g5": "nvidia-a10g",
    "g5g": "nvidia-t4g",
    "g6": "nvidia-l4",
    "g6e": "nvidia-l40s",
    "gr6": "nvidia-l4",
    "p3": "nvidia-tesla-v100",
    "p3dn": "nvidia-tesla-v100",
    "p4d": "nvidia-a100",
    "p4de": "nvidia-a100",
    "p5": "nvidia-h100",
}

# The cluster-autoscaler (render/cloudformation/autoscaler.py has its permissions and tags).
AUTOSCALER_CHART_REPOSITORY = "https://kubernetes.github.io/autoscaler"
AUTOSCALER_CHART_NAME = "cluster-autoscaler"
# Chart 9.59.0 (2026-07-21) defaults to image v1.35.0; heliohub overrides the image so its minor
# version matches the cluster's, as the autoscaler requires.
AUTOSCALER_CHART_VERSION = "9.59.0"
AUTOSCALER_IMAGE_REPOSITORY = "registry.k8s.io/autoscaling/cluster-autoscaler"
# One table for every minor, shared with the upgrade planner (heliohub/eks_releases.py).
AUTOSCALER_IMAGE_TAGS_BY_MINOR: dict[str, str] = AUTOSCALER_IMAGE_TAGS
AUTOSCALER_NAMESPACE = "kube-system"
AUTOSCALER_SERVICE_ACCOUNT = "cluster-autoscaler"


def accelerator(pool: NodePool) -> str:
    """The accelerator label's value: the pool's GPU model, or plain 'nvidia' when its
    instance types mix models or are not in the table."""
    models = {ACCELERATORS.get(t.split(".")[0], "nvidia") for t in pool.instance_types}
    return models.pop() if len(models) == 1 else "nvidia"


def pool_labels(pool: NodePool) -> dict[str, str]:
    """The pool's labels, plus its name and (for GPU pools) the NVIDIA and accelerator labels."""
    labels = dict(pool.labels)
    labels[NODE_POOL_LABEL] = pool.name
    if pool.gpus_per_node:
        labels.setdefault(*GPU_LABEL)
        labels.setdefault(ACCELERATOR_LABEL, accelerator(pool))
    return dict(sorted(labels.items()))


def pool_taints(pool: NodePool) -> list[tuple[str, str, str]]:
    """(key, value, effect) of the pool's taints; GPU pools always repel non-GPU pods."""
    taints = [(t.key, t.value, t.effect) for t in pool.taints]
    if pool.gpus_per_node and not any(k == GPU_TAINT.key for k, _, _ in taints):
        taints.append((GPU_TAINT.key, GPU_TAINT.value, GPU_TAINT.effect))
    return taints


def autoscaler_image_tag(kubernetes_version: str) -> str:
    """The autoscaler image matching the cluster's minor version."""
    try:
        return AUTOSCALER_IMAGE_TAGS_BY_MINOR[kubernetes_version]
    except KeyError:
        raise UserError(
            f"aws.kubernetes_version: no pinned cluster-autoscaler for {kubernetes_version}; "
            f"allowed: {', '.join(AUTOSCALER_IMAGE_TAGS_BY_MINOR)}"
        ) from None
