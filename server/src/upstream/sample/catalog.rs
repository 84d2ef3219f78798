//! The sample API's fixed reference data: jurisdictions, licensed operators, regulatory
//! snapshots. Fictional operators; real regulators' names.

use serde::Serialize;

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Jurisdiction {
    pub code: &'static str,
    pub name: &'static str,
    pub regulator: &'static str,
}

pub const JURISDICTIONS: [Jurisdiction; 7] = [
    Jurisdiction { code: "UK", name: "United Kingdom", regulator: "Gambling Commission" },
    Jurisdiction { code: "MT", name: "Malta", regulator: "Malta Gaming Authority" },
    Jurisdiction { code: "GI", name: "Gibraltar", regulator: "Gibraltar Gambling Commissioner" },
    Jurisdiction { code: "IM", name: "Isle of Man", regulator: "Gambling Supervision Commission" },
    Jurisdiction { code: "SE", name: "Sweden", regulator: "Spelinspektionen" },
    Jurisdiction { code: "NL", name: "Netherlands", regulator: "Kansspelautoriteit" },
    Jurisdiction { code: "ON", name: "Ontario", regulator: "Alcohol and Gaming Commission of Ontario" },
];

/// The jurisdiction with this code, in any letter case.
pub fn jurisdiction(code: &str) -> Option<&'static Jurisdiction> {
    JURISDICTIONS.iter().find(|j| j.code.eq_ignore_ascii_case(code))
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Operator {
    pub id: &'static str,
    pub name: &'static str,
    pub jurisdiction: &'static str,
    pub licence_number: &'static str,
    /// `active`, `suspended`, `revoked` or `expired`.
    pub licence_status: &'static str,
}

impl Operator {
    pub fn is_licensed(&self) -> bool {
        self.licence_status == "active"
    }
}

const fn operator(
    id: &'static str,
    name: &'static str,
    jurisdiction: &'static str,
    licence_number: &'static str,
    licence_status: &'static str,
) -> Operator {
    Operator { id, name, jurisdiction, licence_number, licence_status }
}

pub const OPERATORS: [Operator; 9] = [
    operator("op_0001", "Northwind Gaming Ltd", "UK", "000-041207-R-100001", "active"),
    operator("op_0002", "Harbour Lights Entertainment plc", "UK", "000-039115-R-100002", "active"),
    operator("op_0003", "Northwind Gaming Malta Ltd", "MT", "MGA/B2C/811/2019", "expired"),
    operator("op_0004", "Bluefin Play Ltd", "MT", "MGA/B2C/402/2021", "active"),
    operator("op_0005", "Rock Bay Interactive Ltd", "GI", "RGL-118", "active"),
    operator("op_0006", "Manx Meadow Games Ltd", "IM", "GSC-2207", "suspended"),
    operator("op_0007", "Nordljus Spel AB", "SE", "SI-21Li-4410", "active"),
    operator("op_0008", "Tulip Tables B.V.", "NL", "KSA-11736", "revoked"),
    operator("op_0009", "Lakeshore Digital Inc.", "ON", "AGCO-OPR-1180", "active"),
];

/// Compliance areas a scan or a snapshot covers.
pub const AREAS: [&str; 5] = ["AML", "KYC", "RESPONSIBLE_GAMBLING", "MARKETING", "LICENSING"];

/// The area with this name, in any letter case.
pub fn area(name: &str) -> Option<&'static str> {
    AREAS.iter().copied().find(|area| area.eq_ignore_ascii_case(name))
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Snapshot {
    pub id: &'static str,
    pub jurisdiction: &'static str,
    pub area: &'static str,
    pub title: &'static str,
    pub as_of: &'static str,
}

pub const SNAPSHOTS: [Snapshot; 4] = [
    Snapshot {
        id: "snap_uk_aml_2025q1",
        jurisdiction: "UK",
        area: "AML",
        title: "United Kingdom: anti-money-laundering duties of remote operators",
        as_of: "2025-03-31",
    },
    Snapshot {
        id: "snap_uk_rg_2025q1",
        jurisdiction: "UK",
        area: "RESPONSIBLE_GAMBLING",
        title: "United Kingdom: financial vulnerability and affordability checks",
        as_of: "2025-03-31",
    },
    Snapshot {
        id: "snap_mt_kyc_2025q1",
        jurisdiction: "MT",
        area: "KYC",
        title: "Malta: customer due diligence for B2C licensees",
        as_of: "2025-03-31",
    },
    Snapshot {
        id: "snap_se_marketing_2025q1",
        jurisdiction: "SE",
        area: "MARKETING",
        title: "Sweden: moderation in marketing and bonus offers",
        as_of: "2025-03-31",
    },
];

pub fn snapshot(id: &str) -> Option<&'static Snapshot> {
    SNAPSHOTS.iter().find(|snapshot| snapshot.id == id)
}

/// The sections every snapshot has: key and title.
pub const SECTIONS: [(&str, &str); 3] =
    [("summary", "Summary"), ("obligations", "Obligations"), ("enforcement", "Recent enforcement")];

/// Export formats: one snapshot fans out to several artifacts.
pub const EXPORT_FORMATS: [&str; 5] = ["pdf", "tearsheet", "audio", "deck", "csv"];
