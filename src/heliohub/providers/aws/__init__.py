"""Provider aws: CloudFormation stacks through change sets, then the Kubernetes layer.

Modules: clients (boto3 per region), stages (a stack as a stage), changeset, events (progress
and failures), dataloss, engine (plan/apply/destroy), teardown (retained data and leftovers),
asg_tags (scale-from-zero), hub_stages (the real stacks), state (outputs, client secret),
preflight (account checks), provider.
"""

from heliohub.providers.aws.provider import AWSProvider

__all__ = ["AWSProvider"]
