"""What may be an employer's name, and the question shapes that name one nobody listed.

All functions work on *normalised* text (``ingest.normalise.normalise_aligned``: simplified,
half-width, lower case, same length as the original), so a position found here is a position
in the text as typed. The lists are deliberately conservative: a word that is sometimes an
employer and often not (公司, 老板, 单位, 工地, a city, a law's name) never counts on its own.
"""

from __future__ import annotations

import re

# Legal and everyday endings of an employer's name, longest first.
SUFFIXES = (
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "分公司",
    "子公司",
    "集团",
    "公司",
    "分厂",
    "工厂",
    "厂",
    "分店",
    "门店",
    "店",
    "超市",
    "商场",
    "酒店",
    "饭店",
    "餐厅",
    "酒楼",
    "医院",
    "幼儿园",
    "项目部",
    "工地",
    "工作室",
    "事务所",
)
# What follows a brand or a name when a branch is meant: 海底捞五四广场店, 顺丰黄岛分公司.
BRANCH_ENDINGS = ("分公司", "分店", "门店", "分厂", "分部", "项目部", "营业部", "办事处", "店", "厂")

# Characters that never occur inside the names this module guesses (pronouns, particles,
# question words): a candidate holding one is part of a sentence, not a name.
_FUNCTION_CHARS = "的了吗呢吧啊么怎什哪谁我你他她它们把被给跟对从是没不也都就还又很太这那些该能让会想得着过咋啥才在"
NAME_CHAR = rf"[^\s{_FUNCTION_CHARS}\W_]"  # a letter, digit or CJK character that is no function word

# Words that name a kind of employer, a role or a relation, not one employer (space-separated).
_GENERIC_WORDS = """
公司 老板 单位 工厂 厂 企业 厂里 厂家 厂子 厂方 用人单位 雇主 东家 包工头 工头 老板娘 老总 店里 店家 商家
店铺 门店 店 平台 甲方 乙方 总包 分包 发包方 承包方 开发商 物业 政府 国企 私企 外企 民企 央企 事业单位 机关
学校 医院 银行 超市 饭店 餐厅 酒店 工地 项目 项目部 工程队 施工队 施工方 车间 班组 部门 领导 上司 主管 经理
人事 hr 对方 大家 员工 工人 职工 同事 家里 外地 本地 当地 这里 那里 那边 这边 原单位 原公司 新公司 前公司
上家 快递 外卖 快递公司 外卖平台 劳务公司 派遣公司 劳务派遣 中介 个体户 作坊 小作坊 工作室 网店 淘宝店 直播间
私人老板 黑心老板 无良老板 黑心企业 黑心公司 某某 xx 老公 老婆 爸爸 妈妈 孩子 朋友 亲戚 同学 家人 父亲 母亲
儿子 女儿 丈夫 妻子 男朋友 女朋友 本人 自己 人家 别人 工作 上班 打工 兼职 实习 试用期 合同工 临时工 小时工
网约车 骑手 快递员 外卖员 司机 保安 保洁 服务员 厨师 工程 建筑 装修 物流 电子 服装 食品 餐饮 制造 加工
学生 老师 医生 护士 员工们 工友 工友们 农民工 人社局 劳动局 仲裁委 法院 劳动监察 信访 工会 总工会 社保局
"""
GENERIC = frozenset(_GENERIC_WORDS.split())

# Stems that, with a suffix, still name a kind (服装厂, 外包公司), not one employer.
_GENERIC_STEMS = """
工 本 该 这 那 这个 那个 黑 小 大 分 子 母 总 原 新 老 前 上 下 某 某某 一 一个 一家 这家 那家 别的 其他
外包 劳务 劳务派遣 派遣 中介 个体 用人 私人 工程 建筑 服装 电子 加工 食品 商 饭 酒 网 药 物业 保险 快递
外卖 上市 国有 民营 有限 私立 民办 公立 市立 黑心 无良 小型 大型 中型 同一 另一 附近 当地 本地 外地 科技
贸易 物流 装修 餐饮 制造 家具 鞋 五金 塑料 玩具 纺织 印刷 包装 化工 机械 汽车 汽配 模具 家政 保安 保洁
软件 同行 传媒 经纪 关联 客户 合作 汽修 维修 修车 洗车 石料 石材 采石 砂石 建材 煤矿 矿 钢铁 水泥 木材 装饰 广告
文化 教育 培训 健身 美容 美发 理发 按摩 足疗 互联网 网络 游戏 电商 外贸 房地产 地产 家电 手机 电脑 母婴 烧烤
奶茶 咖啡 面包 蛋糕 水果 蔬菜 便利 小卖部 制药 医药 仓储 纸箱 皮革 家纺 针织 制衣 灯具 电器 电池 光伏 新能源
汽车厂 零件 配件 注塑 塑胶 橡胶 玻璃 陶瓷 金属 设备 电线 线缆 芯片 饮料 水产 海鲜 饲料 养殖 农业 园林 绿化
环卫 环保 安保 人力资源 人力 猎头 招聘 投资 金融 贷款 担保 理财 证券 基金 咨询 会计 律师 设计 施工 市政 路桥
电力 电信 通信 信息 数据 信息技术 网络科技 外资 合资 独资 台资 港资 日资 韩资 美资 私营 集体 家族 夫妻 另 别
上家 下家 两家 有家 用工 承包 转包 代理 加盟 连锁 直营 总部 运输 货运 搬家 代驾 保姆 月嫂 家政服务 清洁 服务
"""
GENERIC_STEMS = frozenset(_GENERIC_STEMS.split()) | GENERIC

# Adverbs and time words that stand between a subject and its verb ("X长期拖欠工资").
_ADVERBS = (
    "恶意",
    "长期",
    "故意",
    "无故",
    "一直",
    "经常",
    "多次",
    "连续",
    "总是",
    "突然",
    "已经",
    "仍然",
    "老是",
    "屡次",
    "竟然",
    "居然",
    "再次",
    "马上",
    "快要",
    "要",
    "将",
    "现在",
    "最近",
    "去年",
    "今年",
    "年底",
    "直接",
)
# Words a question starts with before its subject ("请问华为拖欠工资怎么办").
_LEADS = (
    "时候",
    "以后",
    "之后",
    "之前",
    "以前",
    "后来",
    "然后",
    "当时",
    "平时",
    "目前",
    "周末",
    "请问",
    "你好",
    "您好",
    "听说",
    "关于",
    "如果",
    "要是",
    "假如",
    "现在",
    "最近",
    "那个",
    "一家",
    "咨询",
    "问下",
    "问一下",
    "我想问",
    "律师",
)
# After these roles the name is the employer's ("X的老板跑了", "X人事说…").
_ROLES = ("老板娘", "老板", "老总", "负责人", "领导", "人事", "hr", "员工", "工人", "职工")

# Words a name never contains: the law, money and procedure workers ask about.
_TOPIC_PARTS = (
    "工资",
    "社保",
    "合同",
    "赔偿",
    "补偿",
    "仲裁",
    "加班",
    "工伤",
    "劳动",
    "法",
    "条例",
    "规定",
    "办法",
    "解释",
    "年假",
    "公积金",
    "违约金",
    "经济",
    "离职",
    "辞职",
    "怎么",
    "如何",
    "可以",
    "应该",
    "需要",
    "多少",
    "问题",
    "情况",
    "工作",
    "上班",
    "试用",
    "退休",
    "养老",
    "医疗",
    "失业",
    "生育",
    "拖欠",
    "欠薪",
    "倒闭",
    "破产",
    "辞退",
    "开除",
    "裁员",
    "跑路",
    "老板",
    "险",
    "薪",
    "骚",
    "搔",
    "假",
    "职业",
    "班",
    "机构",
)
# A name holding one of these is a kind or a role with more words around it (公司能, 本单位).
_GENERIC_PARTS = ("公司", "厂", "店", "单位", "老板", "平台", "企业", "工地", "孩子", "老公", "老婆", "领导")
# A stem ending like this is a time, not a name ("入职时公司", "哺乳期公司", "回来后公司").
_TIME_END_RE = re.compile(r"(?:时|期|期间|前|后|中|制|时候)$")
_COUNT_RE = re.compile(r"^[0-9一二两三四五六七八九十几多半每]+(?:个|家|间|分|块|位|名|次)")

_PROVINCES = """
北京 天津 上海 重庆 河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 广东 海南 四川
贵州 云南 陕西 甘肃 青海 台湾 内蒙古 广西 西藏 宁夏 新疆 香港 澳门 全国 国内 国外 外国 老家 城里 农村 乡下
"""
_CITIES = """
青岛 济南 烟台 潍坊 威海 日照 临沂 淄博 济宁 泰安 德州 聊城 滨州 菏泽 枣庄 东营 深圳 广州 东莞 佛山 惠州 中山
珠海 江门 汕头 杭州 宁波 温州 义乌 嘉兴 绍兴 金华 台州 苏州 南京 无锡 常州 南通 昆山 扬州 徐州 合肥 芜湖
福州 厦门 泉州 晋江 莆田 南昌 赣州 武汉 长沙 郑州 石家庄 保定 唐山 沈阳 大连 长春 哈尔滨 太原 西安 兰州
银川 西宁 乌鲁木齐 成都 贵阳 昆明 南宁 海口 三亚 拉萨 呼和浩特 包头 雄安 即墨 胶州 平度 莱西 黄岛 崂山 城阳
李沧 市南 市北 西海岸 浦东 浦西 朝阳 海淀 南山 福田 宝安 龙岗 龙华 天河 白云 番禺 越秀 海珠 黄埔
"""
PLACES = frozenset((_PROVINCES + _CITIES).split())
_LONGEST_PLACE = max(map(len, PLACES))
_PLACE_END_RE = re.compile(r"(?:省|市|县|区|镇|乡|村|街道|路|街|大道|开发区|新区|园区|工业园|广场)$")
_TIME_RE = re.compile(
    r"[0-9一二三四五六七八九十两几半]+(?:个)?(?:年|月|日|号|天|周|星期|小时)|^(?:上|下|这|本)(?:个)?月"
)

_ALT = "|".join
# Verbs and phrases of a worker's complaint after the employer's name (longest first where it matters).
_PREDICATES = _ALT(
    (
        r"拖欠",
        r"欠薪",
        r"欠(?:我|我们|员工|工人|大家|俺)?(?:的)?(?:工资|钱|薪水|工钱|社保|补偿|赔偿|提成)",
        r"不发(?:工资|钱)?",
        r"不给(?:发|交|缴|买)?(?:工资|钱|社保|补偿|赔偿|加班费)",
        r"发不出",
        r"克扣",
        r"扣(?:我|我们)?(?:的)?工资",
        r"倒闭",
        r"破产",
        r"跑路",
        r"跑了",
        r"关门",
        r"停产",
        r"停工",
        r"停业",
        r"裁员",
        r"解散",
        r"注销",
        r"辞退",
        r"开除",
        r"解雇",
        r"炒了",
        r"(?:不|没)(?:交|缴|买)社保",
        r"降薪",
        r"逼(?:我|员工)?辞职",
        r"不签(?:劳动)?合同",
        r"搬迁",
    )
)
_WORK_VERBS = _ALT(("上班", "工作", "打工", "干活", "做事", "任职", "实习", "上过班", "干了", "做了", "当"))
_DISMISS_VERBS = _ALT(("辞退", "开除", "解雇", "裁员", "裁掉", "裁了", "炒", "辞了", "劝退"))

# One pattern per question shape; the group ``name`` is the candidate, checked by ``plausible``.
_NAME = rf"(?P<name>{NAME_CHAR}{{2,14}}?)"
_ROLE = rf"(?:的)?(?:{_ALT(_ROLES)})?"
_ADVERB = rf"(?:{_ALT(_ADVERBS)})*"
CONTEXT_PATTERNS = (
    # X拖欠工资 / X倒闭了 / X的老板跑了 / X长期拖欠工资 — X opens the clause
    re.compile(rf"(?:^|(?<=[^\w]))(?:{_ALT(_LEADS)})?(?:我们|我)?{_NAME}{_ROLE}{_ADVERB}(?:{_PREDICATES})"),
    # 在X上班 / 我在X工作了三年
    re.compile(rf"在{_NAME}(?:{_WORK_VERBS})"),
    # 被X辞退 / 被X开除了
    re.compile(rf"被{_NAME}(?:{_DISMISS_VERBS})"),
    # 从X离职 / 从X辞职
    re.compile(rf"从{_NAME}(?:离职|辞职|出来)"),
    # X的老板 / X的老板娘 / X老板 anywhere
    re.compile(rf"(?:^|(?<=[^\w])|(?<=在|是|去|到|给|跟|对|找|问|告))(?:{_ALT(_LEADS)})?{_NAME}的(?:老板娘|老板|老总)"),
    # 我是X的员工 / 我是X员工
    re.compile(rf"(?:我|我们)是{_NAME}(?:的)?(?:员工|工人|职工|骑手|快递员|外卖员|司机|店员|保安|保洁)"),
)

_STRIP_TAIL = tuple(sorted((*_ADVERBS, "的", "里", "那边", "这边", "这里", "那里"), key=len, reverse=True))
# Verbs before an object that ends like a name ("拒绝公司…", "通过劳务派遣公司").
_VERBS = (
    "拒绝",
    "撤销",
    "起诉",
    "要求",
    "反应",
    "反映",
    "投诉",
    "举报",
    "通过",
    "退回",
    "调到",
    "派到",
    "离开",
    "进入",
    "加入",
    "入职",
)
_STRIP_HEAD = tuple(
    sorted(
        (*_LEADS, *_ADVERBS, *_VERBS, "我们", "我", "这家", "那家", "一家", "有家", "某", "原", "在"),
        key=len,
        reverse=True,
    )
)


_HEAD_RE = re.compile(rf"^(?:{_ALT(_STRIP_HEAD)})+(?=.)")


def trim_head(name: str) -> str:
    """``name`` without the lead words and time words before it (请问…, 最近…); never all of it."""
    return _HEAD_RE.sub("", name, count=1)


def trim(name: str) -> str:
    """``name`` without lead words before it and adverbs or 的/里 after it."""
    changed = True
    while changed and name:
        name = trim_head(name)
        changed = False
        for tail in _STRIP_TAIL:
            if name.endswith(tail) and len(name) > len(tail):
                name, changed = name[: -len(tail)], True
                break
    return name


def is_place(name: str) -> bool:
    """A province, city or district, or a name ending like one (…市, …区, …路)."""
    return name in PLACES or bool(_PLACE_END_RE.search(name))


def plausible(name: str, excluded: frozenset[str] = frozenset()) -> bool:
    """Could ``name`` (normalised, already trimmed) be one employer's name?

    No for generic words (公司, 老板, 单位, 工厂 …), places, times, anything holding a law's,
    a topic's or a question's words (劳动合同法, 工资, 怎么), and the union's excluded words.
    """
    if not 2 <= len(name) <= 24 or name in GENERIC or is_place(name) or not _ordinary_name(name, excluded):
        return False
    return not any(part in name for part in _GENERIC_PARTS)


def _ordinary_name(name: str, excluded: frozenset[str]) -> bool:
    """The checks a guessed name and a suffixed name's stem share: no time, count, topic or function word."""
    if name.isdigit() or name in excluded or name in _ADVERBS or name in _VERBS:
        return False
    if _TIME_RE.search(name) or _TIME_END_RE.search(name) or _COUNT_RE.search(name):
        return False
    if any(part in name for part in _TOPIC_PARTS):
        return False
    return not any(ch in _FUNCTION_CHARS for ch in name)


def stem_of(name: str) -> str:
    """``name`` without its employer suffix (宏达五金厂 → 宏达五金)."""
    return next((name[: -len(s)] for s in SUFFIXES if name.endswith(s) and len(name) > len(s)), name)


def plausible_stem(stem: str, excluded: frozenset[str] = frozenset()) -> bool:
    """Does a name with a suffix (the suffix removed: ``stem``) name one employer, not a kind?"""
    if len(stem) < 2 or stem in GENERIC_STEMS or stem in PLACES or not _ordinary_name(stem, excluded):
        return False
    if any(part in stem for part in _GENERIC_PARTS):
        return False
    # "深圳电子厂", "青岛服装公司": a place and a kind of business is still a kind
    for n in range(2, min(len(stem), _LONGEST_PLACE) + 1):
        if stem[:n] in PLACES and stem[n:] in GENERIC_STEMS:
            return False
    return True
