#include "common/main.hpp"

#include "reactor_handrolled/server.hpp"

int main(int argc, char** argv) {
    return common::run_main<reactor_handrolled::server>(argc, argv);
}
