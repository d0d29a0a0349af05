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

    /// The registry in Prometheus' text format.
    var exposition: @Sendable () -> String {
        { [registry] in
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return String(decoding: buffer, as: UTF8.self)
        }
    }

    /// Makes the registry the process's metrics backend and starts whichever exports the
    /// environment asks for.
    @discardableResult
    static func start(environment: [String: String], logger: Logger) -> Telemetry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [.milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100),
                                                   .milliseconds(500), .seconds(1), .seconds(5), .seconds(30)]
        factory.defaultValueHistogramBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60]
        MetricsSystem.bootstrap(factory)
        let telemetry = Telemetry(registry: registry)
        if let text = environment["ANYVIZ_METRICS_PORT"], let port = Int(text) {
            telemetry.serve(host: environment["ANYVIZ_METRICS_HOST"] ?? "127.0.0.1", port: port, logger: logger)
        }
        if let path = environment["ANYVIZ_METRICS_FILE"], !path.isEmpty {
            telemetry.writeEveryFewSeconds(to: path)
        }
        return telemetry
    }

    private func serve(host: String, port: Int, logger: Logger) {
        do {
            try MetricsEndpoint(host: host, port: port, render: exposition).start()
            logger.notice("metrics endpoint", metadata: ["port": "\(port)"])
        } catch {
            logger.error("metrics endpoint could not start", metadata: ["port": "\(port)", "error": "\(error)"])
        }
    }

    private func writeEveryFewSeconds(to path: String) {
        let render = exposition
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
}
