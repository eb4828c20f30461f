import AllotCore
import AllotTools

/// The sample tenant the generator builds and the sample policies in `policies/` are written
/// for (Contoso): its ids, names and products.
public enum SampleTenant {
    public static let tenantId = "8f3c2a10-5b7e-4d2c-9a61-3e0f4b8d7c21"
    public static let tenantDomain = "contoso.onmicrosoft.com"
    /// The domain of members' user principal names.
    public static let userDomain = "contoso.com"
    /// The SKUs the sample `allot.yaml` manages.
    public static let managedSkus = [
        "SPE_E3", "SPE_E5", "STANDARDPACK", "POWER_BI_PRO", "PROJECTPROFESSIONAL", "VISIOCLIENT",
    ]
    /// SKUs the tenant owns that Allot must never touch.
    public static let unmanagedSkus = ["EMS", "FLOW_FREE", "TEAMS_EXPLORATORY"]
    /// The break-glass account every policy excludes.
    public static let breakGlassUser = "breakglass@contoso.com"

    /// The group names the generator creates, with their roles in the sample policies.
    public enum GroupName {
        public static let engineering = "Engineering"
        public static let platformEngineering = "Platform Engineering"
        public static let dataEngineering = "Data Engineering"
        public static let frontlineWorkers = "Frontline Workers"
        public static let pmo = "PMO"
        public static let licenseExempt = "License Exempt"
        /// A group-based-licensing group: members hold SPE_E3 through it.
        public static let groupBasedE3 = "GBL - Microsoft 365 E3"
    }

    /// The catalog entry of a SKU by part number.
    static func sku(_ partNumber: String) -> SkuCatalog.Entry {
        catalog.first { $0.skuPartNumber == partNumber }!
    }

    /// A plan's id within a SKU.
    static func plan(_ name: String, of partNumber: String) -> GUID {
        sku(partNumber).servicePlans.first { $0.name == name }!.id
    }
}
