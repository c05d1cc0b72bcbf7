"""Which stack changes lose data: replacing or removing EFS, the user pool or the KMS key, or the
home access point.

CloudFormation's change set says when a change replaces a resource (`Replacement: True` or
`Conditional`). heliohub also compares the deployed and the new template itself for the
properties that force a new resource, so the check does not rest on one source alone.
"""

from __future__ import annotations

from typing import Any, Literal

from heliohub.providers.base import PlanChange

# Resource type -> properties whose change creates a new resource (from the CloudFormation
# resource schemas' createOnlyProperties and the reference's "Update requires: Replacement").
DATA_TYPES: dict[str, tuple[str, ...]] = {
    "AWS::EFS::FileSystem": ("AvailabilityZoneName", "Encrypted", "KmsKeyId", "PerformanceMode"),
    "AWS::Cognito::UserPool": ("AliasAttributes", "UsernameAttributes"),
    "AWS::KMS::Key": ("KeySpec", "KeyUsage", "MultiRegion", "Origin"),
}

# Not data themselves, but replacing them loses the users' data all the same: every home volume
# names the access point's id, and a new root directory or owner shows each user an empty home
# (or one they cannot write) while the old files stay on the file system.
DATA_ACCESS_TYPES: dict[str, tuple[str, ...]] = {
    "AWS::EFS::AccessPoint": ("ClientToken", "FileSystemId", "PosixUser", "RootDirectory"),
}

Action = Literal["add", "modify", "remove", "replace"]


def forces_replacement(resource_type: str, old: dict[str, Any], new: dict[str, Any]) -> bool:
    keys = DATA_TYPES.get(resource_type) or DATA_ACCESS_TYPES.get(resource_type, ())
    old_props, new_props = old.get("Properties", {}), new.get("Properties", {})
    return any(old_props.get(k) != new_props.get(k) for k in keys)


def classify(
    stack: str,
    change: dict[str, Any],
    old_template: dict[str, Any] | None,
    new_template: dict[str, Any],
) -> PlanChange:
    """A change set's ResourceChange as a PlanChange, with data loss marked."""
    rc = change["ResourceChange"]
    logical = rc["LogicalResourceId"]
    rtype = rc.get("ResourceType", "")
    cfn_action = rc.get("Action", "Modify")
    action: Action
    if cfn_action == "Add":
        action = "add"
    elif cfn_action == "Remove":
        action = "remove"
    elif rc.get("Replacement") in ("True", "Conditional"):
        action = "replace"
    else:
        action = "modify"
    if action == "modify" and old_template is not None:
        old = old_template.get("Resources", {}).get(logical, {})
        new = new_template.get("Resources", {}).get(logical, {})
        if forces_replacement(rtype, old, new):
            action = "replace"
    return PlanChange(
        stack=stack,
        action=action,
        resource=logical,
        resource_type=rtype,
        data_loss=(rtype in DATA_TYPES or rtype in DATA_ACCESS_TYPES)
        and action in ("remove", "replace"),
    )
