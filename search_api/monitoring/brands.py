"""Employers workers name by brand: the built-in list, under the union's own list and the lexicon's aliases.

One line per employer: ``name = alias、alias …`` (the name is an alias too). Names are the
short brand a worker types, so "华为", "華為" and "华为技术有限公司" count as one employer.
Brands that are also everyday words (美的, 苹果, 淘宝) are listed only in forms that are not
(美的集团); the question shapes in ``employer_rules`` find "在美的上班" all the same.
"""

from __future__ import annotations

_BUILTIN = """
华为 = 华为技术、华为公司、华为集团
中兴 = 中兴通讯
联想 = 联想集团
小米 = 小米集团、小米科技
比亚迪
宁德时代
立讯精密 = 立讯
蓝思科技 = 蓝思
歌尔 = 歌尔股份
京东方
海尔 = 海尔集团
海信 = 海信集团
青岛啤酒 = 青啤
双星 = 双星集团
澳柯玛
中车四方 = 四方机车、中车青岛四方
即发集团 = 即发
利群 = 利群集团、利群商厦
格力 = 格力电器
美的集团 = 美的电器
长城汽车
吉利 = 吉利汽车
蔚来 = 蔚来汽车
理想汽车
小鹏汽车 = 小鹏
特斯拉
三星 = 三星电子
顺丰 = 顺丰速运、顺丰快递、顺丰速递
京东 = 京东物流、京东快递、京东集团
中通 = 中通快递
圆通 = 圆通速递、圆通快递
申通 = 申通快递
韵达 = 韵达快递
百世 = 百世快递、百世汇通
德邦 = 德邦物流、德邦快递
极兔 = 极兔速递、极兔快递
中国邮政 = 邮政、中国邮政集团、ems
美团 = 美团外卖、美团优选
饿了么
滴滴 = 滴滴出行
货拉拉
闪送
达达 = 达达快送
盒马 = 盒马鲜生
叮咚买菜 = 叮咚
朴朴超市 = 朴朴
拼多多 = 多多买菜
阿里巴巴 = 阿里、阿里集团
腾讯 = 腾讯公司
字节跳动 = 字节
百度
网易
快手
携程
58同城
链家
贝壳找房 = 贝壳
新东方
好未来 = 学而思
猿辅导
作业帮
哈啰 = 哈啰出行、哈罗单车
曹操出行
沃尔玛
家乐福
永辉 = 永辉超市
大润发
华润万家
物美
苏宁 = 苏宁易购
国美 = 国美电器
海底捞
麦当劳
肯德基 = kfc
星巴克
瑞幸 = 瑞幸咖啡
蜜雪冰城
喜茶
奈雪 = 奈雪的茶
必胜客
华莱士
德克士
西贝 = 西贝莜面村
安踏
李宁
优衣库
名创优品
万达 = 万达集团、万达广场
万科
恒大 = 恒大集团
碧桂园
融创
绿地 = 绿地集团
保利 = 保利地产
中国建筑 = 中建、中建八局、中建三局
中国中铁 = 中铁
中国铁建 = 铁建
中交 = 中交集团
中石化 = 中国石化
中石油 = 中国石油
国家电网 = 国网
中国移动 = 移动公司
中国联通 = 联通公司
中国电信 = 电信公司
富士康 = 鸿海、富士康科技
"""


def builtin_aliases() -> list[tuple[str, str]]:
    """``(alias, name)`` pairs of the built-in brands (the name maps to itself)."""
    pairs = []
    for line in _BUILTIN.strip().splitlines():
        name, _, rest = (part.strip() for part in line.partition("="))
        pairs.append((name, name))
        pairs.extend((alias, name) for alias in rest.split("、") if alias.strip())
    return pairs
