#ifndef ANYVIZ_CPYTHON_H
#define ANYVIZ_CPYTHON_H
/* <sys/select.h> before Python.h: Python.h defines _GNU_SOURCE, which changes glibc's fd_set and
   would otherwise clash with Foundation's view of it in the Clang module. */
#include <sys/select.h>
#include <signal.h>
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* How a Swift callback ended; the returned string (malloc'd, freed by the C side) is the value
   for ANYVIZ_OK and the message for ANYVIZ_USER_ERROR / ANYVIZ_FAILED. */
enum {
    ANYVIZ_OK = 0,
    ANYVIZ_USER_ERROR = 1,   /* raised as anyviz.errors.MagicError(message) */
    ANYVIZ_INTERRUPTED = 2,  /* raised as KeyboardInterrupt */
    ANYVIZ_FAILED = 3,       /* raised as RuntimeError(message) */
    ANYVIZ_PYTHON_ERROR = 4, /* a Python exception is already set on this thread: propagate it */
    ANYVIZ_NO_STDIN = 5,     /* input() in a request that did not allow stdin */
};

/* Callbacks into Swift. */
/* `parent` is the token of the request the output belongs to (0: the one running now);
   `metadata` the message's metadata JSON (NULL: empty), e.g. the widget protocol version. */
typedef void (*anyviz_emit_fn)(const char *msg_type, const char *json, Py_ssize_t length, long parent,
                               const char *metadata, Py_ssize_t metadata_length);
typedef char *(*anyviz_input_fn)(const char *prompt, int password, int *status);
typedef char *(*anyviz_call_fn)(const char *service, const char *json, int *status);

void anyviz_set_callbacks(anyviz_emit_fn emit, anyviz_input_fn input, anyviz_call_fn call);
/* Registers the `_anyviz` builtin module; call before Py_Initialize. */
int anyviz_register_module(void);
/* Resets SIGINT to its default disposition before Py_Initialize: Python installs its
   KeyboardInterrupt handler only over SIG_DFL, and a kernel launched in the background
   (`nohup jupyter lab &`) inherits SIGINT ignored, which would make interrupts do nothing. */
void anyviz_default_sigint(void);
/* Chains a SIGINT handler in front of Python's so Swift code (an HTTP call) can see interrupts. */
void anyviz_install_sigint_flag(void);
/* The flag that handler sets: polled by Swift work that must stop on an interrupt; cleared
   so an interrupt that arrived while nothing ran cannot stop the next request. */
int anyviz_interrupt_flag(void);
void anyviz_clear_interrupt_flag(void);

/* Binary buffers of comm messages (ipywidgets' images, arrays), both directions.
   While the emit callback runs, the buffers Python passed to `_anyviz.emit` are readable here
   (valid only during that callback, on its thread). */
int anyviz_emit_buffer_count(void);
const void *anyviz_emit_buffer(int index, Py_ssize_t *length);
/* The buffers of the front-end message being handed to Python (NULL/0: none); the memory must
   stay valid until they are cleared again. Python takes copies with `_anyviz.take_buffers()`. */
void anyviz_set_incoming_buffers(const unsigned char *bytes, const Py_ssize_t *lengths, int count);

/* Macros Swift cannot call directly. */
static inline void anyviz_decref(PyObject *o) { Py_XDECREF(o); }
static inline int anyviz_is_unicode(PyObject *o) { return PyUnicode_Check(o); }
#endif
