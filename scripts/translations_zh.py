# ruff: noqa: E501  (a table of sentences: one line each reads best)
"""Simplified Chinese for the portal's and dashboards' strings: fills
``locale/zh_Hans/LC_MESSAGES/django.po`` after ``makemessages`` (run by ``make messages``).

Kept as data so that a reviewer reads English and Chinese side by side.
"""

import re
import sys
from pathlib import Path

ZH = {
    "Americas": "美洲",
    "Europe, Middle East and Africa": "欧洲、中东和非洲",
    "Asia-Pacific": "亚太",
    "Partners whose status is active (now), within the filters.": "当前状态为活跃的合作伙伴（按筛选条件）。",
    "Partners whose partnership started in the quarter.": "本季度开始合作的合作伙伴。",
    "Partners moved out of the program in the quarter (tier change: exit).": "本季度退出计划的合作伙伴（等级变动：退出）。",
    "Partners active at the quarter's start who did not exit during it.": "季度初活跃且本季度未退出的合作伙伴占比。",
    "Won amount of deals closed in the quarter that partners brought alone (no direct relationship, not co-sell).": "本季度由合作伙伴独立带来的成交金额（无直销关系，非联合销售）。",
    "Won amount of deals closed in the quarter with our own team involved (a direct relationship on the account, or co-sell).": "本季度有我方团队参与的成交金额（客户有直销关系，或联合销售）。",
    "Partner-sourced plus partner-assisted revenue ÷ the company's total revenue for the quarter (entered by finance). Target: 30% by year 3.": "合作伙伴来源与协助收入之和 ÷ 公司本季度总收入（由财务录入）。目标：第三年达到 30%。",
    "Open registrations (pending or approved, protection not lapsed) at the quarter's end or today, whichever is earlier: their estimated amounts.": "季度末或今天（取较早者）的未结报备（待审批或已批准且保护期未过）的预估金额。",
    "Won amount ÷ number of deals won in the quarter.": "成交金额 ÷ 本季度成交笔数。",
    "Partner credit this quarter against the previous quarter.": "本季度合作伙伴计入收入与上季度相比。",
    "Won ÷ (won + lost) of deals closed in the quarter.": "本季度结单中：赢单 ÷（赢单 + 丢单）。",
    "The same on accounts with a direct relationship (our own rep).": "同上，仅限有直销关系（我方销售）的客户。",
    "Partner credit in the quarter ÷ the quarterly quota (annual ÷ 4).": "本季度合作伙伴计入收入 ÷ 季度配额（年度 ÷ 4）。",
    "Scorecards of the quarter: on target ≥ 60, at risk 40–59.99, off target < 40.": "本季度记分卡：达标 ≥ 60，风险 40–59.99，未达标 < 40。",
    "Open pipeline ÷ the quota still to reach this quarter.": "未结商机 ÷ 本季度尚未完成的配额。",
    "Active partners with at least one current certification at the quarter's end.": "季度末至少持有一项有效认证的活跃合作伙伴。",
    "Certifications issued in the quarter.": "本季度颁发的认证。",
    "Courses completed in the quarter.": "本季度完成的课程。",
    "Active partners whose people signed in to the portal in the quarter.": "本季度有人员登录门户的活跃合作伙伴。",
    "SPIFF ledger entries paid in the quarter.": "本季度已支付的 SPIFF 台账条目。",
    "Volume rebates owed for the quarter (approved or paid).": "本季度应付的销量返利（已批准或已支付）。",
    "MDF funds of the quarter's fiscal year.": "本季度所属财年的市场发展基金。",
    "Reimbursed plus reserved on those funds.": "这些基金中已报销与已预留之和。",
    "Open pipeline and revenue of deals sourced by MDF activities.": "由 MDF 活动带来的未结商机和收入。",
    "(MDF-sourced pipeline + revenue) ÷ MDF reimbursed.": "（MDF 来源商机 + 收入）÷ MDF 已报销金额。",
    "Partner credit in the quarter ÷ incentives owed for it (all ledger entries earned in the quarter, void ones excluded).": "本季度合作伙伴计入收入 ÷ 应付激励（本季度产生的全部台账条目，不含作废）。",
    "Active partners per tier; target: 10 registered partners per gold partner.": "各等级活跃合作伙伴数；目标：每个金牌合作伙伴对应 10 个注册合作伙伴。",
    "Share of partner revenue (last 4 quarters) from the top 20% of partners. The rulebook expects about 80%.": "前 20% 合作伙伴贡献的合作伙伴收入占比（近 4 个季度）。规则预期约 80%。",
    "Active partners per channel manager; the rulebook expects 20–30.": "每位渠道经理负责的活跃合作伙伴数；规则预期 20–30。",
    "Partner credit": "合作伙伴计入收入",
    "Attainment": "达成率",
    "On target": "达标",
    "At risk": "有风险",
    "Off target": "未达标",
    "Partner portal": "合作伙伴门户",
    "Menu": "菜单",
    "My tier": "我的等级",
    "New notices": "新通知",
    "Deals": "交易",
    "Earnings": "收益",
    "MDF": "市场发展基金",
    "Scorecards": "记分卡",
    "Reviews": "业务评审",
    "Enablement": "赋能",
    "Onboarding plan": "入驻计划",
    "Certifications": "认证",
    "Content library": "内容库",
    "Co-marketing campaigns": "联合营销活动",
    "Team": "团队",
    "My partners": "我的合作伙伴",
    "Admin": "管理后台",
    "Program": "计划",
    "Partners": "合作伙伴",
    "Language": "语言",
    "Sign out": "退出登录",
    "Close": "关闭",
    "Program dashboard": "计划仪表板",
    "as of": "截至",
    "Quarter": "季度",
    "Tier": "等级",
    "All tiers": "全部等级",
    "Region": "区域",
    "All regions": "全部区域",
    "Channel manager": "渠道经理",
    "All managers": "全部经理",
    "Apply": "应用",
    "Ecosystem and revenue": "生态与收入",
    "Active partners": "活跃合作伙伴",
    "this quarter": "本季度",
    "Retention": "留存率",
    "Partner-sourced revenue": "合作伙伴来源收入",
    "assisted": "协助",
    "Channel share of revenue": "渠道收入占比",
    "target": "目标",
    "company revenue not entered": "尚未录入公司收入",
    "Pipeline": "商机",
    "open registrations": "个未结报备",
    "Growth QoQ": "环比增长",
    "avg deal": "平均单笔",
    "Partner credit by quarter": "各季度合作伙伴计入收入",
    "Partner health": "合作伙伴健康度",
    "Pipeline coverage": "商机覆盖率",
    "win rate": "赢单率",
    "with our team": "有我方团队参与",
    "Performance by tier": "各等级业绩",
    "Revenue": "收入",
    "Quota": "配额",
    "Attainment by tier": "各等级达成率",
    "Program health against the program's targets": "计划健康度（对照计划目标）",
    "<strong>Pyramid:</strong> %(ratio)s registered per gold partner (target %(target)s).": "<strong>金字塔：</strong>每个金牌合作伙伴对应 %(ratio)s 个注册合作伙伴（目标 %(target)s）。",
    "<strong>Concentration:</strong> the top %(n)s partners (20%%) bring %(share)s of partner revenue (expected about %(target)s).": "<strong>集中度：</strong>前 %(n)s 个合作伙伴（20%%）贡献了 %(share)s 的合作伙伴收入（预期约 %(target)s）。",
    "<strong>Channel managers:</strong> %(n)s over 30 active partners.": "<strong>渠道经理：</strong>%(n)s 位负责超过 30 个活跃合作伙伴。",
    "overloaded": "超负荷",
    "light": "偏少",
    "Enablement, incentives and MDF": "赋能、激励与市场发展基金",
    "Certified partners": "已认证合作伙伴",
    "of active": "占活跃",
    "new": "新增",
    "courses": "门课程",
    "Portal engagement": "门户活跃度",
    "partners signed in": "个合作伙伴已登录",
    "SPIFFs paid · rebates committed": "已付 SPIFF · 承诺返利",
    "rebates": "返利",
    "incentive ROI": "激励回报率",
    "MDF used of allocated": "MDF 使用率",
    "%(used)s of %(allocated)s": "%(allocated)s 中已用 %(used)s",
    "Top partners": "顶级合作伙伴",
    "Partner": "合作伙伴",
    "Score": "得分",
    "No won deals in the quarter.": "本季度没有赢单。",
    "Board report": "董事会报告",
    "Partner program board report": "合作伙伴计划董事会报告",
    "filtered": "已筛选",
    "Definitions": "指标定义",
}

ENTRY = re.compile(r'(msgid ((?:"(?:[^"\\]|\\.)*"\n)+)msgstr )((?:"(?:[^"\\]|\\.)*"\n)+)')


def fill(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    missing = []

    def replace(match):
        text = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', match.group(2)))
        if not text:
            return match.group(0)
        key = text.replace('\\"', '"')
        if key not in ZH:
            missing.append(key)
            return match.group(0)
        value = ZH[key].replace('"', '\\"')
        return f'{match.group(1)}"{value}"\n'

    path.write_text(ENTRY.sub(replace, source).replace("#, fuzzy\n", "", 1), encoding="utf-8")
    return missing


if __name__ == "__main__":
    po = Path(sys.argv[1] if len(sys.argv) > 1 else "locale/zh_Hans/LC_MESSAGES/django.po")
    left = fill(po)
    for text in left:
        print(f"untranslated: {text}")
    sys.exit(1 if left else 0)
