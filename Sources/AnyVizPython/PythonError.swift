import CAnyVizPython
import Foundation

/// A Python exception caught at the Swift boundary. It keeps the exception objects so the
/// exception can be re-raised unchanged into Python (e.g. a magic's DataError reaching the cell).
public final class PythonError: Error, CustomStringConvertible, @unchecked Sendable {
    let typeName: String
    let message: String
    private var type: UnsafeMutablePointer<PyObject>?
    private var value: UnsafeMutablePointer<PyObject>?
    private var traceback: UnsafeMutablePointer<PyObject>?

    /// Takes the current Python error (the GIL must be held).
    init() {
        PyErr_Fetch(&type, &value, &traceback)
        PyErr_NormalizeException(&type, &value, &traceback)
        typeName = PythonError.string(of: type.flatMap { PyObject_GetAttrString($0, "__name__") }) ?? "Exception"
        message = PythonError.string(of: value.flatMap { PyObject_Str($0) }) ?? ""
    }

    init(typeName: String, message: String) {
        self.typeName = typeName
        self.message = message
    }

    /// Puts the exception back as the thread's current error (the GIL must be held); consumes it.
    func restore() {
        PyErr_Restore(type, value, traceback)
        type = nil
        value = nil
        traceback = nil
    }

    public var description: String { message.isEmpty ? typeName : "\(typeName): \(message)" }

    deinit {
        if type != nil || value != nil || traceback != nil {
            PythonGIL.run {
                anyviz_decref(type)
                anyviz_decref(value)
                anyviz_decref(traceback)
            }
        }
    }

    static func string(of object: UnsafeMutablePointer<PyObject>?) -> String? {
        guard let object else { PyErr_Clear(); return nil }
        defer { anyviz_decref(object) }
        guard let c = PyUnicode_AsUTF8(object) else { PyErr_Clear(); return nil }
        return String(cString: c)
    }
}

/// Holds the GIL for the duration of a closure, from any thread.
enum PythonGIL {
    @discardableResult
    static func run<T>(_ body: () throws -> T) rethrows -> T {
        let state = PyGILState_Ensure()
        defer { PyGILState_Release(state) }
        return try body()
    }
}
