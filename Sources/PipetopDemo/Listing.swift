import Foundation
import PipetopCore

/// A deterministic generator (SplitMix64), so the demo and its tests produce the same listings.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The car listings a marketplace scraper uploads, faults included.
public enum Listing {
    /// What is wrong with a listing, decided when it is made.
    public enum Fault: String, Sendable {
        /// Unparseable: the price is sent as text with a thousands separator (`"12,500"`).
        /// Non-retryable: dead-lettered on the first attempt. An edit repairs it (`12500`), and the
        /// repaired listing goes through the whole pipeline: the demo's fix-and-replay story.
        case malformed
        /// The pricing service times out on the first attempt; a retry succeeds.
        case transient
        /// The search index always rejects it: retried until dead-lettered.
        case poison
    }

    static let makes: [(String, [String])] = [
        ("Volvo", ["V60", "XC40", "XC90"]), ("Toyota", ["Corolla", "RAV4", "Yaris"]), ("Ford", ["Focus", "Kuga", "Puma"]),
        ("Volkswagen", ["Golf", "Passat", "ID.3"]), ("BMW", ["320d", "X3", "i4"]), ("Renault", ["Clio", "Megane", "Zoe"]),
        ("Skoda", ["Octavia", "Fabia", "Enyaq"]), ("Kia", ["Ceed", "Niro", "EV6"]),
    ]
    static let words = [
        "clean", "history", "serviced", "one", "owner", "winter", "tyres", "towbar", "leather", "heated", "seats", "navigation",
        "camera", "cruise", "control", "new", "brakes", "timing", "belt", "replaced", "garage", "kept", "non", "smoker",
        "warranty", "inspection", "passed", "alloy", "wheels", "panoramic", "roof", "hybrid", "diesel", "petrol", "automatic",
        "manual", "economical", "spacious", "family", "car", "low", "mileage", "full", "dealer", "records", "minor", "scratches",
    ]

    /// The fault of the listing with this number: about 2 % malformed, 5 % transient, 0.4 % poison.
    public static func fault(of number: UInt64) -> Fault? {
        var random = SeededRandom(seed: number &* 0x2545_F491_4F6C_DD1D)
        switch random.next() % 1000 {
        case 0..<20: return .malformed
        case 20..<70: return .transient
        case 70..<74: return .poison
        default: return nil
        }
    }

    /// Listing number `number` as a `listing.uploaded` event. `run` names the demo run when several
    /// may share a store (its id is then `listing-N@run`, so two runs' listings, and their flows,
    /// never share an id; the same number is the same listing).
    public static func event(number: UInt64, time: Timestamp = .now(), run: String? = nil) -> CloudEvent {
        var random = SeededRandom(seed: number)
        let (make, models) = makes[Int(random.next() % UInt64(makes.count))]
        let model = models[Int(random.next() % UInt64(models.count))]
        let year = 2008 + Int(random.next() % 17)
        let mileage = Int(random.next() % 250_000)
        let length = 20 + Int(random.next() % 400)  // description words: the work each step does scales with it
        let description = (0..<length).map { _ in words[Int(random.next() % UInt64(words.count))] }.joined(separator: " ")
        let fault = fault(of: number)
        var fields: [String: Any] = [
            "listingId": "L\(number)", "make": make, "model": model, "year": year, "mileage": mileage,
            "description": description, "photos": Int(random.next() % 20),
            "vin": String(format: "YV1%014llu", random.next() % 100_000_000_000_000),
        ]
        let price = 2_000 + Int(random.next() % 60_000)
        fields["price"] = fault == .malformed ? "\(price / 1000)," + String(format: "%03d", price % 1000) : price
        if fault == .poison { fields["title"] = String(repeating: "🚗 BARGAIN!!! ", count: 3000) }
        if fault == .transient { fields["dealer"] = "slow-pricing-dealer" }
        return CloudEvent(
            id: "listing-\(number)" + (run.map { "@\($0)" } ?? ""), source: "/scraper/autosite", type: "listing.uploaded", time: time,
            subject: "L\(number)", data: try! Payload.json(object: fields))
    }
}
