"""Who and what the demo is about: the places, people, shops and offers of 吴江区.

Names follow the district's own report (the 鲈乡 brands, 文明实践进网格, the Saturday
volunteer day); coordinates are GCJ-02 near each place. Nothing here touches the
database: `organisation`, `activities` and `merchants` build from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.merchants.models import LimitPeriod, MerchantCategory
from app.orgs.models import Role, TeamCategory

REGION_CODE = "wujiang"
REGION_NAME = "吴江区"
CENTER_NAME = "吴江区新时代文明实践中心"
# Institutes (所) and their stations (站), with GCJ-02 coordinates near each town centre.
INSTITUTES = [
    ("松陵街道新时代文明实践所", 31.1605, 120.6452, ["流虹社区实践站", "城南社区实践站"]),
    ("黎里镇新时代文明实践所", 30.9302, 120.7347, ["黎里社区实践站", "汾湖湾村实践站"]),
]

# (WeChat login code of the fake WeChat server, name)
VOLUNTEERS = [
    ("xiaoming", "王小明"),
    ("xiaohong", "李小红"),
    ("laozhang", "张建国"),
    ("xiaoyu", "陈晓雨"),
    ("guifang", "周桂芳"),
    ("haoran", "沈浩然"),
]


@dataclass(frozen=True)
class StaffSpec:
    username: str
    display_name: str
    role: Role
    # The unit the role is granted on, by name; None: the centre.
    unit: str | None = None


# The first centre admin is `admin` (app.orgs.founding.add_center_admin); the
# second approves what the two-person rule keeps from the first.
STAFF = [
    StaffSpec("admin2", "周敏", Role.center_admin),
    StaffSpec("guxiaoyan", "顾晓燕", Role.organizer, "松陵街道新时代文明实践所"),
    StaffSpec("xujianping", "徐建平", Role.institute_admin, "黎里镇新时代文明实践所"),
]


@dataclass(frozen=True)
class OfferSpec:
    title: str
    price: int
    description: str | None = None
    stock: int | None = None
    limit_count: int | None = None
    limit_period: LimitPeriod | None = None
    min_star_level: int = 0


@dataclass(frozen=True)
class MerchantSpec:
    # Names the merchant's logins (`<slug>.owner`, `<slug>.cashier`) and its terminal key file.
    slug: str
    name: str
    category: MerchantCategory
    address: str
    latitude: float
    longitude: float
    station: str
    owner: str
    cashier: str
    phone: str
    offers: list[OfferSpec] = field(default_factory=list)

    @property
    def owner_username(self) -> str:
        return f"{self.slug}.owner"

    @property
    def cashier_username(self) -> str:
        return f"{self.slug}.cashier"


NOODLES = MerchantSpec(
    slug="laolu",
    name="老陆面馆",
    category=MerchantCategory.food,
    address="吴江区松陵街道流虹路118号",
    latitude=31.1712,
    longitude=120.6561,
    station="流虹社区实践站",
    owner="陆国平",
    cashier="陆小芳",
    phone="13962501188",
    offers=[
        OfferSpec(
            "阳春面一碗",
            8,
            "现煮阳春面，每位志愿者每天一碗",
            limit_count=1,
            limit_period=LimitPeriod.day,
        ),
        OfferSpec("焖肉面一碗", 15, "老汤焖肉面"),
    ],
)
BOOKS = MerchantSpec(
    slug="luxiang",
    name="鲈乡书店",
    category=MerchantCategory.education,
    address="吴江区松陵街道中山南路256号",
    latitude=31.1688,
    longitude=120.6540,
    station="城南社区实践站",
    owner="沈文华",
    cashier="钱思琪",
    phone="13814002256",
    offers=[
        OfferSpec("《吴江文史》读本", 20, "地方文史读本，限量供应", stock=5),
        OfferSpec("文创笔记本（星级志愿者专享）", 20, "一星及以上志愿者可兑", min_star_level=1),
    ],
)
MART = MerchantSpec(
    slug="lilimart",
    name="黎里古镇便民超市",
    category=MerchantCategory.grocery,
    address="吴江区黎里镇平楼街36号",
    latitude=30.9421,
    longitude=120.7459,
    station="黎里社区实践站",
    owner="周建华",
    cashier="吴丽娟",
    phone="13771803636",
    offers=[
        OfferSpec("环保购物袋", 5, "可折叠帆布袋"),
        OfferSpec("东北大米5kg", 25, "每周到货，数量有限", stock=10),
    ],
)
MERCHANTS = [NOODLES, BOOKS, MART]


@dataclass(frozen=True)
class ActivitySpec:
    title: str
    description: str
    category: TeamCategory
    station: str
    address: str
    organizer: str  # username
    capacity: int
    hours: tuple[str, str]  # local start and end, "HH:MM"
    scan_required: bool = False
    walk_ins_allowed: bool = False


# Past activities, lived through on their days.
GRID_CLEANUP = ActivitySpec(
    title="文明实践进网格 · 流虹社区垃圾分类宣传",
    description="周六上午统一志愿服务日：入户宣传垃圾分类，引导投放点秩序。",
    category=TeamCategory.environment,
    station="流虹社区实践站",
    address="流虹社区党群服务中心门口",
    organizer="guxiaoyan",
    capacity=20,
    hours=("09:00", "11:30"),
)
# High-value: only the organizer's scan of each volunteer's code checks them in and out.
CLINIC = ActivitySpec(
    title="黎里古镇义诊进社区",
    description="联合镇卫生院为老年居民量血压、测血糖，志愿者负责登记与引导。",
    category=TeamCategory.health,
    station="黎里社区实践站",
    address="黎里社区文化广场",
    organizer="xujianping",
    capacity=10,
    hours=("08:30", "11:30"),
    scan_required=True,
)
RIVER_PATROL = ActivitySpec(
    title="河湖巡护 · 汾湖湾河道清洁",
    description="沿河巡查，打捞漂浮垃圾，劝导违规垂钓。",
    category=TeamCategory.environment,
    station="汾湖湾村实践站",
    address="汾湖湾村村委会",
    organizer="xujianping",
    capacity=15,
    hours=("14:00", "16:30"),
)
# Upcoming, with sign-ups.
SATURDAY = ActivitySpec(
    title="文明实践进网格 · 城南社区周六志愿服务日",
    description="宣传教育、巡查处理、秩序引导；欢迎现场报名。",
    category=TeamCategory.theory,
    station="城南社区实践站",
    address="城南社区新时代文明实践站",
    organizer="guxiaoyan",
    capacity=30,
    hours=("09:00", "11:30"),
    walk_ins_allowed=True,
)
TUTORING = ActivitySpec(
    title="美美与共 · 汾湖湾村周末助学课堂",
    description="为村里的小学生辅导作业、讲绘本。",
    category=TeamCategory.education,
    station="汾湖湾村实践站",
    address="汾湖湾村农家书屋",
    organizer="xujianping",
    capacity=12,
    hours=("14:00", "16:00"),
)

# Over the region's default threshold (500): waits for the second centre admin.
AWARD_AMOUNT = 600
AWARD_REASON = "年度优秀志愿者表彰奖励"
AWARD_REFERENCE = "吴文明〔{year}〕12号"  # the year it is asked
