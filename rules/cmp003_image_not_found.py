"""CMP003 image-not-found."""

from __future__ import annotations

from collections.abc import Iterator

from preflight.engine import Context, Finding, rule
from preflight.semantics.remedies import shell


@rule(
    id="CMP003",
    name="image-not-found",
    severity="high",
    category="launch-blocker",
    scope="plan",
    needs={"images", "instance_types"},
    summary="The image (AMI) does not exist in the region, is not available, or does not match the "
            "instance type's architecture",
    references=("https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/finding-an-ami.html",),
)
def check(ctx: Context) -> Iterator[Finding]:
    """What it does:
    Reads DescribeImages for the plan's image and reports it when it is not found, when its state
    is not `available`, or when its architecture is not one the plan's instance type supports.

    Why is this bad?
    AMI ids differ per region, so a plan copied from another region names an image that does not
    exist here; an arm64 image cannot boot an x86_64 type and the reverse. Each fails the launch.

    Example:
    `image: ami-0abcdef1234567890` in eu-south-1 where no such image exists.

    Fix: use an AMI of this region and architecture (aws ec2 describe-images), or copy it here with aws
    ec2 copy-image --source-region SRC --source-image-id ami-… --name NAME --region R.

    Fix safety:
    No automatic fix: which image to use is the user's choice. The finding gives the commands to
    find an image of the right architecture or to copy the image into the region.
    """
    plan = ctx.plan
    if plan is None or not plan.image:
        return
    image, region = plan.image, ctx.region
    data = ctx.inventory.extra.get("images") or {}
    if "found" not in data:
        yield ctx.unknown(image, f"cannot check image {image} in {region}: this inventory has no image data "
                                 "(not in this snapshot: check the account live with --plan)")
        return
    facts = ((ctx.inventory.extra.get("instance_types") or {}).get("types") or {}).get(plan.instance_type) or {}
    arches = facts.get("architectures") or []
    arch_filter = f" Name=architecture,Values={arches[0]}" if arches else ""
    find = (f"aws ec2 describe-images --owners amazon --filters Name=state,Values=available{arch_filter} "
            f"--query 'sort_by(Images,&CreationDate)[-5:].[ImageId,Name]' --region {region}")
    copy = shell("aws", "ec2", "copy-image", "--source-region", "SOURCE_REGION", "--source-image-id", image,
                 "--name", "NAME", "--region", region)
    if not data["found"]:
        why = f" (AWS said {data['error']}: {data['message']})" if data.get("error") else ""
        yield ctx.fail(image, f"image {image} does not exist in {region} or is not shared with this account"
                              f"{why}; AMI ids are regional, so RunInstances would fail with InvalidAMIID.NotFound",
                       details={"error": data.get("error", "")},
                       fix=ctx.fix(find, copy, description="pick an image of this region, or copy yours here"))
        return
    if data.get("state") != "available":
        yield ctx.fail(image, f"image {image} ({data.get('name', '')}) is in state {data.get('state') or 'unknown'}, "
                              "not available, so instances cannot be launched from it",
                       details={"state": data.get("state", "")},
                       fix=ctx.fix(find, description="pick an available image"))
        return
    arch = data.get("architecture", "")
    if arches and arch and arch not in arches:
        yield ctx.fail(image, f"image {image} ({data.get('name', '')}) is {arch}, but {plan.instance_type} runs "
                              f"{', '.join(arches)}: RunInstances would fail with InvalidParameterValue. Use an "
                              f"{arches[0]} image or an instance type for {arch}",
                       path=(image, plan.instance_type),
                       details={"image_architecture": arch, "type_architectures": arches},
                       fix=ctx.fix(find, description=f"pick an {arches[0]} image"))
