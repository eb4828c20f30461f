import AllotCore
import AllotTools

extension SampleTenant {
    /// The SKUs the sample tenant owns, managed ones first, from Microsoft's catalogue
    /// (``SkuCatalog``: real SKU and service-plan ids).
    static let catalog: [SkuCatalog.Entry] = [
        "SPE_E3", "SPE_E5", "STANDARDPACK", "POWER_BI_PRO", "PROJECTPROFESSIONAL", "VISIOCLIENT", "EMS", "FLOW_FREE",
        "TEAMS_EXPLORATORY",
    ].map { SkuCatalog.entry($0)! }
}
