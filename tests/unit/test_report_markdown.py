from __future__ import annotations

from preflight.report import render
from tests.unit.report_samples import sample_report


def test_markdown_summary_table_and_fix_blocks():
    md = render(sample_report(), "markdown")
    assert md.startswith("## preflight check: eu-south-1 (account 123456789012)\n")
    assert "**2 failed** (1 high, 1 info), 1 unknown; 3 rules run." in md
    assert "could not read network_acls in eu-south-1 (UnauthorizedOperation); grant `ec2:DescribeNetworkAcls`" in md
    row = next(line for line in md.splitlines() if line.startswith("| high |"))
    assert row == ("| high | NET002 subnet-without-default-route | `subnet-0abc` | eu-south-1 | subnet subnet-0abc "
                   "maps public IPs but rtb-1 has no 0.0.0.0/0 route \\| 100% &lt;b&gt; |")
    assert "| medium (UNKNOWN) | SG001 plan-port-not-open |" in md
    assert "(UnauthorizedOperation)\\\\nline2" in md  # a line break cannot start a new table row
    assert "```sh\naws ec2 create-route --route-table-id rtb-1 --destination-cidr-block 0.0.0.0/0" in md
    # aimed where the check looked: the sample's inventory came from the sandbox scenario `test`
    assert ("Or run `preflight fix --sandbox test --region eu-south-1 --select NET002 --apply` "
            "(fixer `route-add-default`).") in md
    assert "Path: `subnet-0abc` → `rtb-1` → `igw-9`" in md


def test_markdown_clean_report():
    md = render(sample_report(findings=False), "markdown")
    assert "**No problems found**: 3 rules passed." in md
    assert "| severity |" not in md
