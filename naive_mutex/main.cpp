#include "common/main.hpp"

#include "naive_mutex/server.hpp"

int main(int argc, char** argv) {
    return common::run_main<naive_mutex::server>(argc, argv);
}
