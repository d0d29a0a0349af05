#include "CAnyVizPython.h"
#include <stdlib.h>
#include <string.h>

static anyviz_emit_fn emit_cb = NULL;
static anyviz_input_fn input_cb = NULL;
static anyviz_call_fn call_cb = NULL;
static volatile sig_atomic_t interrupt_flag = 0;
static struct sigaction python_sigint;

void anyviz_set_callbacks(anyviz_emit_fn emit, anyviz_input_fn input, anyviz_call_fn call) {
    emit_cb = emit;
    input_cb = input;
    call_cb = call;
}

static void chained_sigint(int sig, siginfo_t *info, void *ctx) {
    interrupt_flag = 1;
    if (python_sigint.sa_flags & SA_SIGINFO) {
        if (python_sigint.sa_sigaction) python_sigint.sa_sigaction(sig, info, ctx);
    } else if (python_sigint.sa_handler != SIG_DFL && python_sigint.sa_handler != SIG_IGN && python_sigint.sa_handler) {
        python_sigint.sa_handler(sig);
    }
}

void anyviz_default_sigint(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
}

void anyviz_install_sigint_flag(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = chained_sigint;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &python_sigint);
}

int anyviz_interrupt_flag(void) { return interrupt_flag; }
void anyviz_clear_interrupt_flag(void) { interrupt_flag = 0; }

static PyObject *raise_user_error(const char *message) {
    PyObject *module = PyImport_ImportModule("anyviz.errors");
    PyObject *cls = module ? PyObject_GetAttrString(module, "MagicError") : NULL;
    Py_XDECREF(module);
    if (!cls) {
        PyErr_Clear();
        PyErr_SetString(PyExc_RuntimeError, message);
        return NULL;
    }
    PyErr_SetString(cls, message);
    Py_DECREF(cls);
    return NULL;
}

/* Buffers of the emit in progress; the GIL serialises emits, the thread-local keeps a
   callback on another thread from ever seeing them. */
#define ANYVIZ_MAX_BUFFERS 1024
static _Thread_local Py_buffer *emit_views = NULL;
static _Thread_local int emit_view_count = 0;

int anyviz_emit_buffer_count(void) { return emit_view_count; }

const void *anyviz_emit_buffer(int index, Py_ssize_t *length) {
    if (index < 0 || index >= emit_view_count) {
        if (length) *length = 0;
        return NULL;
    }
    if (length) *length = emit_views[index].len;
    return emit_views[index].buf;
}

/* Contiguous views of every buffer in `buffers` (a sequence of bytes-like objects). */
static Py_buffer *acquire_views(PyObject *buffers, int *count) {
    PyObject *items = PySequence_Fast(buffers, "buffers must be a list of bytes-like objects");
    if (!items) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(items);
    if (n > ANYVIZ_MAX_BUFFERS) {
        Py_DECREF(items);
        PyErr_Format(PyExc_ValueError, "at most %d buffers per message", ANYVIZ_MAX_BUFFERS);
        return NULL;
    }
    Py_buffer *views = PyMem_Calloc(n ? (size_t)n : 1, sizeof(Py_buffer));
    if (!views) {
        Py_DECREF(items);
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(items, i), &views[i], PyBUF_C_CONTIGUOUS) != 0) {
            for (Py_ssize_t j = 0; j < i; j++) PyBuffer_Release(&views[j]);
            PyMem_Free(views);
            Py_DECREF(items);
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError,
                         "buffer %zd is not a contiguous bytes-like object: pass bytes, bytearray, "
                         "a memoryview or a C-contiguous array (numpy.ascontiguousarray)", i);
            return NULL;
        }
    }
    Py_DECREF(items);
    *count = (int)n;
    return views;
}

static PyObject *py_emit(PyObject *self, PyObject *args) {
    const char *msg_type;
    const char *json;
    Py_ssize_t length;
    long parent = 0;
    const char *metadata = NULL;
    Py_ssize_t metadata_length = 0;
    PyObject *buffers = Py_None;
    if (!PyArg_ParseTuple(args, "ss#|lz#O", &msg_type, &json, &length, &parent, &metadata, &metadata_length,
                          &buffers))
        return NULL;
    Py_buffer *views = NULL;
    int count = 0;
    if (buffers != Py_None && !(views = acquire_views(buffers, &count))) return NULL;
    emit_views = views;
    emit_view_count = count;
    if (emit_cb) emit_cb(msg_type, json, length, parent, metadata, metadata_length);
    emit_views = NULL;
    emit_view_count = 0;
    for (int i = 0; i < count; i++) PyBuffer_Release(&views[i]);
    PyMem_Free(views);
    Py_RETURN_NONE;
}

static const unsigned char *incoming_bytes = NULL;
static const Py_ssize_t *incoming_lengths = NULL;
static int incoming_count = 0;

void anyviz_set_incoming_buffers(const unsigned char *bytes, const Py_ssize_t *lengths, int count) {
    incoming_bytes = bytes;
    incoming_lengths = lengths;
    incoming_count = (bytes && lengths && count > 0) ? count : 0;
}

/* The buffers of the front-end message being handled, as a list of bytes (copies). */
static PyObject *py_take_buffers(PyObject *self, PyObject *unused) {
    PyObject *list = PyList_New(incoming_count);
    if (!list) return NULL;
    Py_ssize_t offset = 0;
    for (int i = 0; i < incoming_count; i++) {
        PyObject *item = PyBytes_FromStringAndSize((const char *)incoming_bytes + offset, incoming_lengths[i]);
        if (!item) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, item);
        offset += incoming_lengths[i];
    }
    return list;
}

static const char *no_stdin = "raw_input was called, but this frontend does not support input requests.";

/* Turns a callback's (result, status) into a Python value or exception; frees the result. */
static PyObject *answer(char *result, int status) {
    PyObject *value = NULL;
    switch (status) {
    case ANYVIZ_OK: value = PyUnicode_FromString(result ? result : ""); break;
    case ANYVIZ_USER_ERROR: raise_user_error(result ? result : "error"); break;
    case ANYVIZ_INTERRUPTED:
        /* The SIGINT that stopped the service also tripped Python's handler: let it raise the
           KeyboardInterrupt now, so a second one does not land later in the caller's cleanup. */
        if (PyErr_CheckSignals() == 0) PyErr_SetNone(PyExc_KeyboardInterrupt);
        break;
    case ANYVIZ_PYTHON_ERROR:
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "kernel service failed");
        break;
    case ANYVIZ_NO_STDIN: PyErr_SetString(PyExc_RuntimeError, no_stdin); break;
    default: PyErr_SetString(PyExc_RuntimeError, result ? result : "internal error"); break;
    }
    free(result);
    return value;
}

static PyObject *py_input(PyObject *self, PyObject *args) {
    const char *prompt;
    int password = 0;
    if (!PyArg_ParseTuple(args, "s|p", &prompt, &password)) return NULL;
    if (!input_cb) return answer(NULL, ANYVIZ_NO_STDIN);
    int status = ANYVIZ_OK;
    char *result;
    Py_BEGIN_ALLOW_THREADS
    result = input_cb(prompt, password, &status);
    Py_END_ALLOW_THREADS
    return answer(result, status);
}

static PyObject *py_call(PyObject *self, PyObject *args) {
    const char *service;
    const char *json;
    if (!PyArg_ParseTuple(args, "ss", &service, &json)) return NULL;
    if (!call_cb) return answer(strdup("the AnyViz kernel services are not available"), ANYVIZ_FAILED);
    /* On the cell's thread, an interrupt that already reached Python as a KeyboardInterrupt
       (and was caught) must not cancel this service; one still pending in Python is raised
       now. Clearing first means a SIGINT arriving in between sets the flag again, so the
       service still sees it. Other threads leave the flag to the cell's thread. */
    if (_PyOS_IsMainThread()) {
        interrupt_flag = 0;
        if (PyErr_CheckSignals() != 0) return NULL;
    }
    int status = ANYVIZ_OK;
    char *result;
    Py_BEGIN_ALLOW_THREADS
    result = call_cb(service, json, &status);
    Py_END_ALLOW_THREADS
    return answer(result, status);
}

static PyMethodDef methods[] = {
    {"emit", py_emit, METH_VARARGS,
     "Publish an IOPub message (msg_type, content_json[, parent_token[, metadata_json[, buffers]]])."},
    {"take_buffers", py_take_buffers, METH_NOARGS, "The binary buffers of the front-end message being handled."},
    {"input", py_input, METH_VARARGS, "Ask the front end for a line of input (prompt, password)."},
    {"call", py_call, METH_VARARGS, "Run a kernel service (service, payload_json) -> result_json."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_anyviz", "Bridge from the AnyViz Python runtime to the Swift kernel.", -1, methods,
};

static PyObject *init_module(void) { return PyModule_Create(&module_def); }

int anyviz_register_module(void) { return PyImport_AppendInittab("_anyviz", init_module); }
