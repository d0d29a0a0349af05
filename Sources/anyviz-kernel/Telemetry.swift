import AnyVizTransport
import Foundation
import Logging
import Metrics
import Prometheus

/// Metrics for operators: swift-metrics backed by a Prometheus registry, exposed on
/// `ANYVIZ_METRICS_PORT` (HTTP `GET /metrics` on 127.0.0.1, or `ANYVIZ_METRICS_HOST`) and/or
/// written every few seconds to `ANYVIZ_METRICS_FILE` for node_exporter's textfile collector.
struct Telemetry {
    let registry: PrometheusCollectorRegistry

    var exposition: @Sendable () -> String {
        { [registry] in
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return String(decoding: buffer, as: UTF8.self)
        }
    }

    static func start(environment: [String: String], logger: Logger) -> Telemetry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [.milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100),
                                                   .milliseconds(500), .seconds(1), .seconds(5), .seconds(30)]
        factory.defaultValueHistogramBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60]
        MetricsSystem.bootstrap(factory)
        let telemetry = Telemetry(registry: registry)
        if let text = environment["ANYVIZ_METRICS_PORT"], let port = Int(text) {
            do {
                let endpoint = try MetricsEndpoint(host: environment["ANYVIZ_METRICS_HOST"] ?? "127.0.0.1", port: port,
                                                   render: telemetry.exposition)
                endpoint.start()
                logger.notice("metrics endpoint", metadata: ["port": "\(port)"])
            } catch {
                logger.error("metrics endpoint could not start", metadata: ["port": "\(port)", "error": "\(error)"])
            }
        }
        if let path = environment["ANYVIZ_METRICS_FILE"], !path.isEmpty {
            let render = telemetry.exposition
            let thread = Thread {
                while true {
                    // Write then rename, so the collector never reads a half-written file.
                    let temporary = path + ".tmp"
                    if (try? render().write(toFile: temporary, atomically: false, encoding: .utf8)) != nil {
                        _ = rename(temporary, path)
                    }
                    sleep(5)
                }
            }
            thread.name = "anyviz-metrics-file"
            thread.start()
        }
        return telemetry
    }
}
