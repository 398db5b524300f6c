"""CLUE IFLYTEK: 17,332 app descriptions (hundreds of characters) in 119 imbalanced classes; scored on dev."""

from benchmark.dataset import Dataset, SourceFile
from benchmark.registry import register
from tasks._clue import PADDLE, PADDLE_SETUP, PAPER_SETUP, PROTOCOL, figures, reader

ARCHIVE = "iflytek_public.zip"
CLUE = "CLUE README (dev)"
# Label ids 0-118 and their names, as the archive's labels.json gives them.
NAMES = (
    "打车 地图导航 免费WIFI 租车 同城服务 快递物流 婚庆 家政 公共交通 政务 社区服务 薅羊毛 魔幻 仙侠 卡牌 "
    "飞行空战 射击游戏 休闲益智 动作类 体育竞技 棋牌中心 经营养成 策略 MOBA 辅助工具 约会社交 即时通讯 "
    "工作社交 论坛圈子 婚恋社交 情侣社交 社交工具 生活社交 微博博客 新闻 漫画 小说 技术 教辅 问答交流 搞笑 杂志 "
    "百科 影视娱乐 求职 兼职 视频 短视频 音乐 直播 电台 K歌 成人 中小学 职考 公务员 英语 视频教育 高等教育 "
    "成人教育 艺术 语言(非英语) 旅游资讯 综合预定 民航 铁路 酒店 行程管理 民宿短租 出国 工具 亲子儿童 母婴 "
    "驾校 违章 汽车咨询 汽车交易 日常养车 行车辅助 租房 买房 装修家居 电子产品 问诊挂号 养生保健 医疗服务 "
    "减肥瘦身 美妆美业 菜谱 餐饮店 体育咨讯 运动健身 支付 保险 股票 借贷 理财 彩票 记账 银行 美颜 影像剪辑 "
    "摄影修图 相机 绘画 二手 电商 团购 外卖 电影票务 社区超市 购物咨询 笔记 办公 日程管理 女性 经营 收款 其他"
).split()

register(
    Dataset(
        name="iflytek",
        description="CLUE IFLYTEK app descriptions, 119 imbalanced classes, long texts (12,133 train; scored on "
        "the 2,599 dev)",
        homepage="https://github.com/CLUEbenchmark/CLUE",
        files=(
            SourceFile(
                ARCHIVE,
                f"https://storage.googleapis.com/cluebenchmark/tasks/{ARCHIVE}",
                sha256="c59b961b29f1d0bad0c5e01aa62e4a61a80e9cfb980ce89b06c000851fbb3b06",
                md5="19e4b19947db126f69aae18db0da2b87",
                size=6_505_938,
            ),
        ),
        protocols=(PROTOCOL,),
        read=reader(ARCHIVE, "sentence"),
        labels=tuple(NAMES),
        codes=tuple(str(i) for i in range(len(NAMES))),
        # Descriptions run to hundreds of characters: keep the first and the last tokens (Sun et al. 2019).
        max_length=128,
        truncation="head+tail",
        main_score="macro_f1",
        url_env="CLUE_URL",
        reported=(
            *figures(CLUE, {**PAPER_SETUP, "batch_size": 32}, bert=60.37, ernie=59.52, roberta_wwm=60.8),
            *figures(
                PADDLE,
                PADDLE_SETUP,
                bert=61.29,
                ernie=62.25,
                roberta_wwm=61.23,
                mengzi=61.64,
                ernie3_xbase=62.41,
                ernie3_base=61.56,
                ernie3_medium=60.67,
                ernie3_mini=54.48,
                ernie3_micro=53.83,
                ernie3_nano=48.36,
                rbt3=59.18,
                rbtl3=59.56,
                rbt4=58.95,
                rbt6=59.64,
                uer_tiny=20.28,
                uer_mini=41.63,
                uer_small=57.55,
                uer_medium=58.29,
                roberta_wwm_large=62.02,
            ),
        ),
    )
)
