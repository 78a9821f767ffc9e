import UltraGateHTTP
import UltraGateJSON
import Foundation

/// The admin API: virtual keys, for the master key only (the access gate refuses every other
/// caller before this runs).
///
/// | method and path | answer |
/// | --- | --- |
/// | `POST /admin/keys` | 201: the key (`publicJSON`) plus `key`, its secret, shown this once |
/// | `GET /admin/keys` | `{"object":"list","data":[key…]}`, by name, without secrets |
/// | `GET /admin/keys/{name}` | the key |
/// | `PATCH /admin/keys/{name}` | the key, changed (`null` clears a field) |
/// | `DELETE /admin/keys/{name}` | `{"name","object":"key","deleted":true}`; the secret stops working |
/// | `GET /admin/keys/{name}/usage` | `KeyUsageReport` |
///
/// Bodies are validated by `KeySpecValidator` (400 naming the field in `param`); an unknown name
/// is 404 `key_not_found`, a name taken 409 `key_exists`. Writes run on a thread of their own, off
/// the event loop and the task pool: they may wait for LMDB's write lock, which other processes
/// share. Reads answer inline (a read transaction). Every answer is `no-store`.
extension Gateway {
    /// A gateway key pasted as a name or team would be stored, listed and logged in the clear.
    private func gatewayKeyAsName(_ body: JSONObject) -> GatewayError? {
        for field in ["name", "team"] {
            guard let value = body[field]?.stringValue, value == config.auth.masterKey || value == config.auth.metricsKey else { continue }
            return .invalidRequest("`\(field)` must not be one of the gateway's own keys.", param: field, code: "invalid_value")
        }
        return nil
    }

    func handleAdmin(_ endpoint: Endpoint, _ request: HTTPRequest, _ responder: HTTPResponder, _ context: RequestContext) {
        guard let store = keyStore else { return fail(responder, context, .adminDisabled) }
        let method = request.head.method
        switch (endpoint, method) {
        case (.adminKeys, "POST"):
            guard let body = adminBody(request, responder, context) else { return }
            if let refusal = gatewayKeyAsName(body) { return fail(responder, context, refusal) }
            Thread.detachNewThread { [self] in
                do throws(KeyAdminError) {
                    let (key, secret) = try store.create(body)
                    var json = key.publicJSON
                    json["key"] = .string(secret)
                    respondAdmin(responder, context, .object(json), status: 201,
                                 extra: [HTTPHeaderField("Location", "/admin/keys/\(key.name)")])
                } catch {
                    fail(responder, context, .keyAdmin(error))
                }
            }
        case (.adminKeys, _):
            do {
                let keys = try store.list()
                respondAdmin(responder, context, .object(["object": "list", "data": .array(keys.map { .object($0.publicJSON) })]))
            } catch {
                fail(responder, context, .keyAdmin(error))
            }
        case (.adminKey(let name), "PATCH"):
            guard let body = adminBody(request, responder, context) else { return }
            if let refusal = gatewayKeyAsName(body) { return fail(responder, context, refusal) }
            Thread.detachNewThread { [self] in
                do throws(KeyAdminError) {
                    respondAdmin(responder, context, .object(try store.update(name: name, body).publicJSON))
                } catch {
                    fail(responder, context, .keyAdmin(error))
                }
            }
        case (.adminKey(let name), "DELETE"):
            Thread.detachNewThread { [self] in
                do throws(KeyAdminError) {
                    try store.revoke(name: name)
                    respondAdmin(responder, context, .object(["name": .string(name), "object": "key", "deleted": true]))
                } catch {
                    fail(responder, context, .keyAdmin(error))
                }
            }
        case (.adminKey(let name), _):
            do {
                guard let key = try store.get(name: name) else { return fail(responder, context, .keyAdmin(.notFound(name))) }
                respondAdmin(responder, context, .object(key.publicJSON))
            } catch {
                fail(responder, context, .keyAdmin(error))
            }
        case (.adminKeyUsage(let name), _):
            do {
                respondAdmin(responder, context, try store.usage(name: name).json)
            } catch {
                fail(responder, context, .keyAdmin(error))
            }
        default:
            fail(responder, context, .routeNotFound(method: method, path: request.head.path))
        }
    }

    /// The JSON object a POST or PATCH carries; nil once it has answered why there is none.
    private func adminBody(_ request: HTTPRequest, _ responder: HTTPResponder, _ context: RequestContext) -> JSONObject? {
        if let contentType = request.head.headers["content-type"], !Gateway.isJSONMediaType(contentType) {
            fail(responder, context, .unsupportedMediaType(contentType))
            return nil
        }
        guard !request.body.isEmpty else {
            fail(responder, context, .invalidRequest("The request body is empty; send a JSON object.", code: "empty_body"))
            return nil
        }
        let json: JSON
        do { json = try JSONParser.parse(request.body) } catch {
            fail(responder, context, .invalidJSON(error))
            return nil
        }
        guard let object = json.objectValue else {
            fail(responder, context, .invalidRequest("The request body must be a JSON object, not \(json.typeName).", code: "invalid_body"))
            return nil
        }
        return object
    }

    private func respondAdmin(_ responder: HTTPResponder, _ context: RequestContext, _ json: JSON, status: Int = 200,
                              extra: [HTTPHeaderField] = []) {
        var headers = commonHeaders(context, cacheStatus: nil, model: nil)
        headers.append(HTTPHeaderField("Content-Type", "application/json"))
        headers.append(HTTPHeaderField("Cache-Control", "no-store"))
        headers.append(contentsOf: extra)
        responder.respond(status: status, headers: headers, body: JSONWriter.serialize(json))
    }
}

extension GatewayError {
    /// The admin API without a key store: no master key is configured.
    static let adminDisabled = GatewayError(
        status: 403, type: "permission_error",
        message: "The admin API is off: set `auth.master_key` in the config (or ULTRAGATE_MASTER_KEY) to manage virtual keys.",
        code: "admin_disabled")

    /// A refused change to the virtual keys, in OpenAI's shape.
    static func keyAdmin(_ error: KeyAdminError) -> GatewayError {
        switch error {
        case .invalid(let spec):
            return .invalidRequest("Invalid key field: \(spec.description).", param: spec.field, code: spec.kind.rawValue)
        case .exists(let name):
            return GatewayError(status: 409, type: "invalid_request_error",
                                message: "A key named `\(name)` exists already; choose another name or revoke it first.",
                                param: "name", code: "key_exists")
        case .notFound(let name):
            return GatewayError(status: 404, type: "invalid_request_error", message: "No key is named \(KeyAdminError.shown(name)).",
                                code: "key_not_found")
        case .storage(let reason):
            return GatewayError(status: 500, type: "server_error", message: "The key store failed: \(reason)",
                                code: "key_store_error")
        }
    }
}
